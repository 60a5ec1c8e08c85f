// jwt-hs256 (C++): verifies an HS256 bearer JWT on every request and forwards its subject,
// like filters/jwt-hs256; anything else gets a local 401.
//
// Configuration: {"secret": "...", "header": "authorization", "forward_sub_header": "x-jwt-sub",
// "clock_skew_seconds": 0, "max_token_bytes": 8192}. Only `secret` is required;
// `forward_sub_header: null` disables forwarding.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "crypto.h"
#include "json.h"
#include "proxy_wasm_intrinsics.h"

namespace {

constexpr const char* kFilter = "jwt-hs256";

struct Config {
  // Keyed once; each request copies it, which skips re-deriving the padded key blocks.
  crypto::HmacSha256 mac;
  std::string header;
  std::optional<std::string> forward_sub_header;
  double clock_skew_seconds;
  size_t max_token_bytes;
};

// Why a request is rejected; the text is the 401 body.
enum class Reject {
  None,
  Missing,
  NotBearer,
  TooLarge,
  Malformed,
  UnsupportedAlg,
  BadSignature,
  Expired,
  NotYetValid,
  BadSubject,
  Unconfigured,
};

std::string_view rejectBody(Reject r) {
  switch (r) {
    case Reject::Missing: return "jwt: missing token";
    case Reject::NotBearer: return "jwt: not a bearer token";
    case Reject::TooLarge: return "jwt: token too large";
    case Reject::Malformed: return "jwt: malformed token";
    case Reject::UnsupportedAlg: return "jwt: unsupported alg";
    case Reject::BadSignature: return "jwt: bad signature";
    case Reject::Expired: return "jwt: token expired";
    case Reject::NotYetValid: return "jwt: token not yet valid";
    case Reject::BadSubject: return "jwt: bad sub claim";
    case Reject::Unconfigured: return "jwt: not configured";
    case Reject::None: break;
  }
  return "";
}

// Decodes one base64url segment holding a JSON object (an array is not a valid JOSE header
// or claims set).
bool decodeJson(std::string_view segment, json::Value& out) {
  std::string text;
  if (!crypto::base64UrlDecode(segment, text)) return false;
  std::string_view t = filterbench::trimAsciiStart(text);
  if (t.empty() || t[0] != '{') return false;
  std::string error;
  return json::parse(text, out, error);
}

struct Claims {
  std::optional<std::string> sub;
  std::optional<double> exp;
  std::optional<double> nbf;
};

bool decodeClaims(const json::Value& doc, Claims& c) {
  std::string error;
  return json::decodeStruct(
      doc, "struct Claims", {"sub", "exp", "nbf"}, {false, false, false}, /*deny_unknown=*/false,
      [&](size_t field, const json::Value& v, std::string& e) {
        if (v.type == json::Type::Null) return true;  // Option: null is None
        if (field == 0) {
          std::string s;
          if (!json::asString(v, s, e)) return false;
          c.sub = std::move(s);
          return true;
        }
        double d;
        if (!json::asF64(v, d, e)) return false;
        (field == 1 ? c.exp : c.nbf) = d;
        return true;
      },
      error);
}

// Checks `header_value` against `now` (seconds since the epoch); on success `sub` holds the
// subject claim, if any.
Reject verify(const Config& config, std::string_view header_value, double now,
              std::optional<std::string>& sub) {
  std::string_view value = filterbench::trimAscii(header_value);
  if (value.size() < 6 || !filterbench::eqIgnoreAsciiCase(value.substr(0, 6), "bearer") ||
      value.size() == 6 || value[6] != ' ')
    return Reject::NotBearer;
  std::string_view token = filterbench::trimAsciiStart(value.substr(6));
  if (token.size() > config.max_token_bytes) return Reject::TooLarge;

  size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return Reject::Malformed;
  size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return Reject::Malformed;
  if (token.find('.', dot2 + 1) != std::string_view::npos) return Reject::Malformed;
  std::string_view header_b64 = token.substr(0, dot1);
  std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view signature_b64 = token.substr(dot2 + 1);

  // Check the algorithm before spending an HMAC on the token.
  json::Value header;
  if (!decodeJson(header_b64, header)) return Reject::Malformed;
  std::string alg;
  std::string error;
  bool ok = json::decodeStruct(
      header, "struct JoseHeader", {"alg"}, {true}, false,
      [&](size_t, const json::Value& v, std::string& e) { return json::asString(v, alg, e); },
      error);
  if (!ok) return Reject::Malformed;
  if (alg != "HS256") return Reject::UnsupportedAlg;

  std::string signature;
  if (!crypto::base64UrlDecode(signature_b64, signature)) return Reject::Malformed;
  crypto::HmacSha256 mac = config.mac;
  mac.update(token.substr(0, dot2));
  if (!mac.verify(signature)) return Reject::BadSignature;

  json::Value payload;
  if (!decodeJson(payload_b64, payload)) return Reject::Malformed;
  Claims claims;
  if (!decodeClaims(payload, claims)) return Reject::Malformed;
  double skew = config.clock_skew_seconds;
  if (claims.exp && now >= *claims.exp + skew) return Reject::Expired;
  if (claims.nbf && now + skew < *claims.nbf) return Reject::NotYetValid;
  // The subject becomes a header value: refuse control characters (CR/LF injection).
  if (claims.sub) {
    for (unsigned char ch : *claims.sub)
      if (ch < 0x20 || ch == 0x7f) return Reject::BadSubject;
  }
  sub = std::move(claims.sub);
  return Reject::None;
}

class JwtRoot : public RootContext {
 public:
  JwtRoot(uint32_t id, std::string_view root_id) : RootContext(id, root_id) {}

  bool onConfigure(size_t configuration_size) override {
    json::Value doc;
    if (!filterbench::loadConfigJson(kFilter, configuration_size, doc)) return false;
    std::string secret;
    std::string header = "authorization";
    std::optional<std::string> forward_sub_header = std::string("x-jwt-sub");
    uint32_t clock_skew_seconds = 0;
    uint32_t max_token_bytes = 8192;
    std::string error;
    bool ok = json::decodeStruct(
        doc, "struct RawConfig",
        {"secret", "header", "forward_sub_header", "clock_skew_seconds", "max_token_bytes"},
        {true, false, false, false, false}, /*deny_unknown=*/true,
        [&](size_t field, const json::Value& v, std::string& e) {
          switch (field) {
            case 0: return json::asString(v, secret, e);
            case 1: return json::asString(v, header, e);
            case 2: {
              if (v.type == json::Type::Null) {
                forward_sub_header.reset();
                return true;
              }
              std::string s;
              if (!json::asString(v, s, e)) return false;
              forward_sub_header = std::move(s);
              return true;
            }
            case 3: return json::asU32(v, clock_skew_seconds, e);
            default: return json::asU32(v, max_token_bytes, e);
          }
        },
        error);
    if (!ok) return filterbench::badConfig(kFilter, error);
    if (secret.empty()) return filterbench::badConfig(kFilter, "`secret` must not be empty");
    if (header.empty() || (forward_sub_header && forward_sub_header->empty()))
      return filterbench::badConfig(kFilter, "header names must not be empty");
    config = std::make_shared<Config>(Config{crypto::HmacSha256(secret), std::move(header),
                                             std::move(forward_sub_header),
                                             static_cast<double>(clock_skew_seconds),
                                             static_cast<size_t>(max_token_bytes)});
    return true;
  }

  std::shared_ptr<const Config> config;
};

// A request header, or std::nullopt when absent. getRequestHeader cannot tell an absent header
// from an empty one, which this filter answers differently, so ask the host directly.
std::optional<WasmDataPtr> requestHeader(std::string_view name) {
  const char* value = nullptr;
  size_t size = 0;
  if (proxy_get_header_map_value(WasmHeaderMapType::RequestHeaders, name.data(), name.size(),
                                 &value, &size) != WasmResult::Ok)
    return std::nullopt;
  return std::make_unique<WasmData>(value, size);
}

class JwtAuth : public Context {
 public:
  JwtAuth(uint32_t id, RootContext* root)
      : Context(id, root), config_(static_cast<JwtRoot*>(root)->config) {}

  FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    Reject outcome;
    std::optional<std::string> sub;
    if (!config_) {
      outcome = Reject::Unconfigured;
    } else if (auto value = requestHeader(config_->header)) {
      outcome = verify(*config_, (*value)->view(), nowSeconds(), sub);
    } else {
      outcome = Reject::Missing;
    }
    if (outcome == Reject::None) {
      if (config_->forward_sub_header) {
        // Replace rather than add, so a client cannot smuggle in its own subject.
        if (sub)
          replaceRequestHeader(*config_->forward_sub_header, *sub);
        else
          removeRequestHeader(*config_->forward_sub_header);
      }
      return FilterHeadersStatus::Continue;
    }
    sendLocalResponse(401, "", rejectBody(outcome),
                      {{"www-authenticate", "Bearer error=\"invalid_token\""}});
    return FilterHeadersStatus::StopIteration;
  }

 private:
  // Whole seconds, as the Rust filter takes them.
  static double nowSeconds() {
    return static_cast<double>(getCurrentTimeNanoseconds() / 1000000000ull);
  }

  std::shared_ptr<const Config> config_;
};

}  // namespace

static RegisterContextFactory register_jwt_hs256(CONTEXT_FACTORY(JwtAuth), ROOT_FACTORY(JwtRoot));
