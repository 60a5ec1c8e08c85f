// add-header (C++): adds one configured header to every response, like filters/add-header.
//
// Configuration: {"name": "x-filterbench", "value": "added"} (both required).
#include <memory>
#include <string>

#include "config.h"
#include "json.h"
#include "proxy_wasm_intrinsics.h"

namespace {

constexpr const char* kFilter = "add-header";

struct Config {
  std::string name;
  std::string value;
};

class AddHeaderRoot : public RootContext {
 public:
  AddHeaderRoot(uint32_t id, std::string_view root_id) : RootContext(id, root_id) {}

  bool onConfigure(size_t configuration_size) override {
    json::Value doc;
    if (!filterbench::loadConfigJson(kFilter, configuration_size, doc)) return false;
    Config c;
    std::string error;
    bool ok = json::decodeStruct(
        doc, "struct Config", {"name", "value"}, {true, true}, /*deny_unknown=*/true,
        [&](size_t field, const json::Value& v, std::string& e) {
          return json::asString(v, field == 0 ? c.name : c.value, e);
        },
        error);
    if (!ok) return filterbench::badConfig(kFilter, error);
    if (c.name.empty()) return filterbench::badConfig(kFilter, "`name` must not be empty");
    // A failed configure keeps the previous configuration, if any.
    config = std::make_shared<Config>(std::move(c));
    return true;
  }

  std::shared_ptr<const Config> config;
};

class AddHeader : public Context {
 public:
  AddHeader(uint32_t id, RootContext* root)
      : Context(id, root), config_(static_cast<AddHeaderRoot*>(root)->config) {}

  FilterHeadersStatus onResponseHeaders(uint32_t, bool) override {
    if (config_) addResponseHeader(config_->name, config_->value);
    return FilterHeadersStatus::Continue;
  }

 private:
  std::shared_ptr<const Config> config_;
};

}  // namespace

static RegisterContextFactory register_add_header(CONTEXT_FACTORY(AddHeader),
                                                  ROOT_FACTORY(AddHeaderRoot));
