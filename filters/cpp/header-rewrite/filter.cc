// header-rewrite (C++): normalises request headers with one map read and one map write, like
// filters/header-rewrite: trims values, lowercases selected values, drops deny-listed headers,
// adds a request id when missing and rewrites a `:path` prefix. Values are bytes throughout.
//
// Configuration (every field optional):
// {"lowercase_values": ["x-mode"], "deny": ["x-internal-secret"],
//  "request_id_header": "x-request-id", "path_prefix": {"from": "/api/v1/", "to": "/v2/"}}
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "json.h"
#include "proxy_wasm_intrinsics.h"

namespace {

using filterbench::eqIgnoreAsciiCase;

constexpr const char* kFilter = "header-rewrite";

struct PathPrefix {
  std::string from;
  std::string to;
};

struct Config {
  std::vector<std::string> lowercase_values;
  std::vector<std::string> deny;
  std::optional<std::string> request_id_header;
  std::optional<PathPrefix> path_prefix;
};

bool decodePathPrefix(const json::Value& v, std::optional<PathPrefix>& out, std::string& error) {
  if (v.type == json::Type::Null) {
    out.reset();
    return true;
  }
  PathPrefix p;
  bool ok = json::decodeStruct(
      v, "struct PathPrefix", {"from", "to"}, {true, true}, true,
      [&](size_t field, const json::Value& fv, std::string& e) {
        return json::asString(fv, field == 0 ? p.from : p.to, e);
      },
      error);
  if (ok) out = std::move(p);
  return ok;
}

bool decodeConfig(const json::Value& doc, Config& c, std::string& error) {
  return json::decodeStruct(
      doc, "struct Config", {"lowercase_values", "deny", "request_id_header", "path_prefix"},
      {false, false, false, false}, true,
      [&](size_t field, const json::Value& v, std::string& e) {
        switch (field) {
          case 0: return json::asStringList(v, c.lowercase_values, e);
          case 1: return json::asStringList(v, c.deny, e);
          case 2: {
            if (v.type == json::Type::Null) {
              c.request_id_header.reset();
              return true;
            }
            std::string s;
            if (!json::asString(v, s, e)) return false;
            c.request_id_header = std::move(s);
            return true;
          }
          default: return decodePathPrefix(v, c.path_prefix, e);
        }
      },
      error);
}

// `list` holds lowercase names; `name` comes from the host in any case.
bool listed(const std::vector<std::string>& list, std::string_view name) {
  for (const auto& entry : list)
    if (eqIgnoreAsciiCase(entry, name)) return true;
  return false;
}

class HeaderRewriteRoot : public RootContext {
 public:
  HeaderRewriteRoot(uint32_t id, std::string_view root_id) : RootContext(id, root_id) {}

  bool onConfigure(size_t configuration_size) override {
    json::Value doc;
    if (!filterbench::loadConfigJson(kFilter, configuration_size, doc)) return false;
    Config c;
    std::string error;
    if (!decodeConfig(doc, c, error)) return filterbench::badConfig(kFilter, error);
    // Header names compare case-insensitively; lowercase once here.
    for (auto& n : c.lowercase_values) filterbench::makeAsciiLowercase(n);
    for (auto& n : c.deny) filterbench::makeAsciiLowercase(n);
    if (c.request_id_header) {
      if (c.request_id_header->empty())
        return filterbench::badConfig(kFilter, "`request_id_header` must not be empty");
      filterbench::makeAsciiLowercase(*c.request_id_header);
    }
    if (c.path_prefix && c.path_prefix->from.empty())
      return filterbench::badConfig(kFilter, "`path_prefix.from` must not be empty");
    config = std::make_shared<Config>(std::move(c));
    return true;
  }

  // `fb-<clock ns as 16 hex digits>-<per-VM sequence number>`.
  std::string nextRequestId() {
    uint64_t n = ++request_ids_;
    uint64_t nanos = getCurrentTimeNanoseconds();
    const char* hex = "0123456789abcdef";
    std::string id = "fb-";
    for (int shift = 60; shift >= 0; shift -= 4) id.push_back(hex[(nanos >> shift) & 15]);
    id.push_back('-');
    id += std::to_string(n);
    return id;
  }

  std::shared_ptr<const Config> config;

 private:
  uint64_t request_ids_ = 0;  // ids issued by this VM
};

class HeaderRewrite : public Context {
 public:
  HeaderRewrite(uint32_t id, RootContext* root)
      : Context(id, root),
        root_(static_cast<HeaderRewriteRoot*>(root)),
        config_(root_->config) {}

  FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    if (!config_) return FilterHeadersStatus::Continue;
    const Config& config = *config_;
    WasmDataPtr all = getRequestHeaderPairs();
    auto pairs = all->pairs();
    HeaderStringPairs headers;
    headers.reserve(pairs.size() + 1);
    for (const auto& [name, value] : pairs)
      if (!listed(config.deny, name)) headers.emplace_back(name, value);

    bool has_request_id = false;
    for (auto& [name, value] : headers) {
      std::string_view trimmed = filterbench::trimAscii(value);
      if (trimmed.size() != value.size()) value = std::string(trimmed);
      if (listed(config.lowercase_values, name)) filterbench::makeAsciiLowercase(value);
      if (name == ":path" && config.path_prefix) {
        const std::string& from = config.path_prefix->from;
        if (value.compare(0, from.size(), from) == 0 && value.size() >= from.size())
          value = config.path_prefix->to + value.substr(from.size());
      }
      // An empty id is as good as none: it is replaced below.
      if (config.request_id_header && !value.empty() &&
          eqIgnoreAsciiCase(*config.request_id_header, name))
        has_request_id = true;
    }

    if (config.request_id_header && !has_request_id) {
      // Drop any empty id first, then append a fresh one.
      const std::string& id_header = *config.request_id_header;
      headers.erase(std::remove_if(headers.begin(), headers.end(),
                                   [&](const auto& h) { return eqIgnoreAsciiCase(id_header, h.first); }),
                    headers.end());
      headers.emplace_back(id_header, root_->nextRequestId());
    }
    setRequestHeaderPairs(headers);
    return FilterHeadersStatus::Continue;
  }

 private:
  HeaderRewriteRoot* root_;
  std::shared_ptr<const Config> config_;
};

}  // namespace

static RegisterContextFactory register_header_rewrite(CONTEXT_FACTORY(HeaderRewrite),
                                                     ROOT_FACTORY(HeaderRewriteRoot));
