// A plugin written the way the proxy-wasm C++ SDK's documentation teaches (root and stream
// contexts, RegisterContextFactory, WasmData, LOG_*), using nothing of filterbench's own: the
// test cpp_sdk_style.rs builds it against filters/cpp/sdk both ways and runs fixtures.json on
// every arm, to show SDK-style code compiles and behaves the same on our layer.
//
// Configuration: the raw text of a value for the `x-sdk-style` response header.
#include <string>
#include <string_view>

#include "proxy_wasm_intrinsics.h"

class StyleRootContext : public RootContext {
 public:
  explicit StyleRootContext(uint32_t id, std::string_view root_id) : RootContext(id, root_id) {}

  bool onConfigure(size_t configuration_size) override {
    auto configuration =
        getBufferBytes(WasmBufferType::PluginConfiguration, 0, configuration_size);
    if (configuration->size() == 0) {
      LOG_WARN("sdk-style: missing configuration");
      return false;
    }
    value_ = configuration->toString();
    CHECK_RESULT(setSharedData("sdk-style.value", value_));
    if (!requests_) requests_ = Counter<std::string>::New("sdk_style_requests", "method");
    LOG_INFO("sdk-style: configured " + value_);
    return true;
  }

  Counter<std::string>* requests() { return requests_; }

 private:
  std::string value_;
  Counter<std::string>* requests_ = nullptr;
};

class StyleContext : public Context {
 public:
  explicit StyleContext(uint32_t id, RootContext* root)
      : Context(id, root), root_(static_cast<StyleRootContext*>(root)) {}

  FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override;
  FilterHeadersStatus onResponseHeaders(uint32_t headers, bool end_of_stream) override;
  FilterDataStatus onResponseBody(size_t body_buffer_length, bool end_of_stream) override;
  void onDone() override { LOG_DEBUG(std::string("onDone ") + std::to_string(id())); }

 private:
  StyleRootContext* root_;
  bool upper_ = false;
};

static RegisterContextFactory register_StyleContext(CONTEXT_FACTORY(StyleContext),
                                                    ROOT_FACTORY(StyleRootContext));

FilterHeadersStatus StyleContext::onRequestHeaders(uint32_t, bool) {
  std::string method;
  if (!getValue({"request", "method"}, &method)) method = "unknown";
  if (root_->requests()) root_->requests()->increment(1, method);

  auto path = getRequestHeader(":path");
  if (path->view() == "/deny") {
    sendLocalResponse(403, "sdk_style_denied", "denied by sdk-style\n",
                      {{"x-sdk-style", "denied"}});
    return FilterHeadersStatus::StopIteration;
  }
  upper_ = path->view() == "/upper";

  size_t count = 0;
  CHECK_RESULT(getRequestHeaderSize(&count));
  auto pairs = getRequestHeaderPairs()->pairs();
  std::string names;
  for (auto& [name, value] : pairs) {
    if (!names.empty()) names += ",";
    names += std::string(name);
  }
  addRequestHeader("x-header-count", std::to_string(count) + "/" + std::to_string(pairs.size()));
  replaceRequestHeader("x-header-names", names);
  removeRequestHeader("x-remove-me");
  return FilterHeadersStatus::Continue;
}

FilterHeadersStatus StyleContext::onResponseHeaders(uint32_t, bool) {
  WasmDataPtr value;
  if (getSharedData("sdk-style.value", &value) == WasmResult::Ok)
    addResponseHeader("x-sdk-style", value->view());
  auto status = getResponseHeader(":status");
  LOG_INFO("sdk-style: status " + status->toString());
  if (upper_) removeResponseHeader("content-length");
  return FilterHeadersStatus::Continue;
}

FilterDataStatus StyleContext::onResponseBody(size_t body_buffer_length, bool) {
  if (!upper_ || body_buffer_length == 0) return FilterDataStatus::Continue;
  auto body = getBufferBytes(WasmBufferType::HttpResponseBody, 0, body_buffer_length);
  std::string upper = body->toString();
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  setBuffer(WasmBufferType::HttpResponseBody, 0, body_buffer_length, upper);
  return FilterDataStatus::Continue;
}
