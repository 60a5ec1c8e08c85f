// The runtime behind proxy_wasm_intrinsics.h: the context registry, the exported proxy_on_*
// callbacks that dispatch to it, and the non-inline parts of the API.
#include "proxy_wasm_intrinsics.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>

// ---- Helpers -------------------------------------------------------------------------------------

namespace proxy_wasm_detail {

std::string logPrefix(const char* file, int line, const char* function) {
  std::string p = "[";
  p += file;
  p += ':';
  p += std::to_string(line);
  p += "]::";
  p += function;
  p += "() ";
  return p;
}

void checkFailed(const char* expression) { logAbort(expression); }

static uint32_t readU32(const char* at) {
  unsigned char b[4];
  std::memcpy(b, at, 4);
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
         (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
}

}  // namespace proxy_wasm_detail

std::vector<std::pair<std::string_view, std::string_view>> WasmData::pairs() const {
  using proxy_wasm_detail::readU32;
  std::vector<std::pair<std::string_view, std::string_view>> out;
  if (!data_ || size_ < 4) return out;
  size_t n = readU32(data_);
  if (n > (size_ - 4) / 8) return out;
  size_t at = 4 + n * 8;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    size_t key_size = readU32(data_ + 4 + i * 8);
    size_t value_size = readU32(data_ + 8 + i * 8);
    // Each key and value is followed by a NUL (tolerated missing after the last value).
    if (at > size_ || key_size > size_ - at) return {};
    std::string_view key(data_ + at, key_size);
    at += key_size + 1;
    if (at > size_ || value_size > size_ - at) return {};
    std::string_view value(data_ + at, value_size);
    at += value_size + 1;
    out.emplace_back(key, value);
  }
  return out;
}

WasmResult getHeaderMapSize(WasmHeaderMapType type, size_t* size) {
  const char* data = nullptr;
  size_t bytes = 0;
  WasmResult r = proxy_get_header_map_pairs(type, &data, &bytes);
  *size = (r == WasmResult::Ok && data && bytes >= 4) ? proxy_wasm_detail::readU32(data) : 0;
  std::free(const_cast<char*>(data));
  return r;
}

WasmResult getBufferStatus(WasmBufferType type, size_t* size, uint32_t* flags) {
  const char* data = nullptr;
  size_t bytes = 0;
  WasmResult r =
      proxy_get_buffer_bytes(type, 0, static_cast<size_t>(-1) >> 1, &data, &bytes);
  std::free(const_cast<char*>(data));
  *size = r == WasmResult::Ok ? bytes : 0;
  *flags = 0;
  return r;
}

// ---- Outbound HTTP calls ---------------------------------------------------------------------------

WasmResult RootContext::httpCall(std::string_view uri, const HeaderStringPairs& request_headers,
                                 std::string_view request_body,
                                 const HeaderStringPairs& request_trailers,
                                 uint32_t timeout_milliseconds, HttpCallCallback callback) {
  uint32_t token = 0;
  WasmResult r = makeHttpCall(uri, request_headers, request_body, request_trailers,
                              timeout_milliseconds, &token);
  if (r == WasmResult::Ok) http_calls_[token] = std::move(callback);
  return r;
}

void RootContext::onHttpCallResponse(uint32_t token, uint32_t headers, size_t body_size,
                                     uint32_t trailers) {
  auto it = http_calls_.find(token);
  if (it == http_calls_.end()) return;
  HttpCallCallback callback = std::move(it->second);
  http_calls_.erase(it);
  callback(headers, body_size, trailers);
}

// ---- Metrics ------------------------------------------------------------------------------------

std::string MetricBase::prefixWithFields(const std::vector<std::string>& fields) {
  std::string out = prefix;
  for (size_t i = 0; i < fields.size() && i < tags.size(); i++) {
    out += tags[i].name;
    out += value_separator;
    out += fields[i];
    out += field_separator;
  }
  return out;
}

uint32_t MetricBase::resolveFullName(const std::string& n) {
  auto it = metric_ids.find(n);
  if (it != metric_ids.end()) return it->second;
  uint32_t id = 0;
  CHECK_RESULT(defineMetric(type, n, &id));
  metric_ids.emplace(n, id);
  return id;
}

uint32_t MetricBase::resolveWithFields(const std::vector<std::string>& fields) {
  if (fields.size() != tags.size()) logAbort("metric fields.size() != tags.size()");
  return resolveFullName(prefixWithFields(fields) + name);
}

void MetricBase::partiallyResolveWithFields(const std::vector<std::string>& fields) {
  if (fields.size() >= tags.size()) logAbort("metric fields.size() >= tags.size()");
  prefix = prefixWithFields(fields);
  tags.erase(tags.begin(), tags.begin() + static_cast<std::ptrdiff_t>(fields.size()));
}

std::string MetricBase::nameFromIdSlow(uint32_t id) {
  for (const auto& [n, i] : metric_ids)
    if (i == id) return n;
  return "";
}

// ---- Registry --------------------------------------------------------------------------------------

namespace {

// Function-local statics: registrations run from static constructors in other files, in an
// order we do not control.
struct Registry {
  std::unordered_map<std::string, RootFactory> root_factories;
  std::unordered_map<std::string, ContextFactory> context_factories;
  std::unordered_map<uint32_t, std::unique_ptr<ContextBase>> contexts;
  std::unordered_map<std::string, RootContext*> roots;
};

Registry& registry() {
  static Registry r;
  return r;
}

// The factory registered for `root_id`, else the one for "" (a plugin registered without a
// root id runs whatever root id the host configured, e.g. filterbench names it after the filter).
template <typename Factory>
const Factory* factoryFor(const std::unordered_map<std::string, Factory>& map,
                          std::string_view root_id) {
  auto it = map.find(std::string(root_id));
  if (it == map.end()) it = map.find("");
  return it == map.end() ? nullptr : &it->second;
}

RootContext* createRoot(uint32_t id) {
  const char* data = nullptr;
  size_t size = 0;
  static constexpr std::string_view kRootId = "plugin_root_id";
  if (proxy_get_property(kRootId.data(), kRootId.size(), &data, &size) != WasmResult::Ok)
    data = nullptr, size = 0;
  WasmData root_id(data, size);
  Registry& r = registry();
  std::unique_ptr<RootContext> root;
  if (const RootFactory* f = factoryFor(r.root_factories, root_id.view())) root = (*f)(id, root_id.view());
  if (!root) root = std::make_unique<RootContext>(id, root_id.view());
  RootContext* raw = root.get();
  r.roots[root_id.toString()] = raw;
  r.contexts[id] = std::move(root);
  return raw;
}

Context* createStream(uint32_t id, RootContext* root) {
  Registry& r = registry();
  std::unique_ptr<Context> stream;
  if (const ContextFactory* f = factoryFor(r.context_factories, root->root_id()))
    stream = (*f)(id, root);
  if (!stream) stream = std::make_unique<Context>(id, root);
  Context* raw = stream.get();
  r.contexts[id] = std::move(stream);
  return raw;
}

}  // namespace

RegisterContextFactory::RegisterContextFactory(ContextFactory context_factory,
                                               RootFactory root_factory,
                                               std::string_view root_id) {
  Registry& r = registry();
  if (context_factory) r.context_factories[std::string(root_id)] = std::move(context_factory);
  if (root_factory) r.root_factories[std::string(root_id)] = std::move(root_factory);
}

ContextBase* getContextBase(uint32_t context_id) {
  auto& contexts = registry().contexts;
  auto it = contexts.find(context_id);
  return it == contexts.end() ? nullptr : it->second.get();
}

Context* getContext(uint32_t context_id) {
  ContextBase* c = getContextBase(context_id);
  return c ? c->asContext() : nullptr;
}

RootContext* getRootContext(uint32_t context_id) {
  ContextBase* c = getContextBase(context_id);
  return c ? c->asRoot() : nullptr;
}

RootContext* getRoot(std::string_view root_id) {
  auto& roots = registry().roots;
  auto it = roots.find(std::string(root_id));
  return it == roots.end() ? nullptr : it->second;
}

// ---- Exported callbacks --------------------------------------------------------------------------
// A callback for a context we do not know (the host's mistake) does nothing and continues.

#if defined(__wasm__)
#define PROXY_WASM_CALLBACK(name) extern "C" __attribute__((export_name(#name), used))
#else
#define PROXY_WASM_CALLBACK(name) extern "C" __attribute__((visibility("default"), used))
#endif

PROXY_WASM_CALLBACK(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1() {}

PROXY_WASM_CALLBACK(proxy_on_memory_allocate) void* proxy_on_memory_allocate(size_t size) {
  return std::malloc(size ? size : 1);
}

PROXY_WASM_CALLBACK(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t parent_context_id) {
  if (getContextBase(context_id)) return;
  if (parent_context_id == 0) {
    createRoot(context_id)->onCreate();
  } else if (RootContext* root = getRootContext(parent_context_id)) {
    createStream(context_id, root)->onCreate();
  }
}

PROXY_WASM_CALLBACK(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t root_context_id, size_t vm_configuration_size) {
  RootContext* root = getRootContext(root_context_id);
  return root && root->onStart(vm_configuration_size);
}

PROXY_WASM_CALLBACK(proxy_validate_configuration)
uint32_t proxy_validate_configuration(uint32_t root_context_id, size_t configuration_size) {
  RootContext* root = getRootContext(root_context_id);
  return root && root->validateConfiguration(configuration_size);
}

PROXY_WASM_CALLBACK(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t root_context_id, size_t configuration_size) {
  RootContext* root = getRootContext(root_context_id);
  return root && root->onConfigure(configuration_size);
}

PROXY_WASM_CALLBACK(proxy_on_tick) void proxy_on_tick(uint32_t root_context_id) {
  if (RootContext* root = getRootContext(root_context_id)) root->onTick();
}

PROXY_WASM_CALLBACK(proxy_on_queue_ready)
void proxy_on_queue_ready(uint32_t root_context_id, uint32_t token) {
  if (RootContext* root = getRootContext(root_context_id)) root->onQueueReady(token);
}

PROXY_WASM_CALLBACK(proxy_on_foreign_function)
void proxy_on_foreign_function(uint32_t context_id, uint32_t function_id, size_t data_size) {
  if (ContextBase* c = getContextBase(context_id))
    c->onForeignFunction(function_id, static_cast<uint32_t>(data_size));
}

PROXY_WASM_CALLBACK(proxy_on_new_connection) uint32_t proxy_on_new_connection(uint32_t id) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onNewConnection() : FilterStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_downstream_data)
uint32_t proxy_on_downstream_data(uint32_t id, size_t data_size, uint32_t end_of_stream) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onDownstreamData(data_size, end_of_stream != 0)
                                 : FilterStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_upstream_data)
uint32_t proxy_on_upstream_data(uint32_t id, size_t data_size, uint32_t end_of_stream) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onUpstreamData(data_size, end_of_stream != 0)
                                 : FilterStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_downstream_connection_close)
void proxy_on_downstream_connection_close(uint32_t id, uint32_t close_type) {
  if (Context* c = getContext(id)) c->onDownstreamConnectionClose(static_cast<CloseType>(close_type));
}

PROXY_WASM_CALLBACK(proxy_on_upstream_connection_close)
void proxy_on_upstream_connection_close(uint32_t id, uint32_t close_type) {
  if (Context* c = getContext(id)) c->onUpstreamConnectionClose(static_cast<CloseType>(close_type));
}

PROXY_WASM_CALLBACK(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t id, uint32_t headers, uint32_t end_of_stream) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onRequestHeaders(headers, end_of_stream != 0)
                                 : FilterHeadersStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_request_body)
uint32_t proxy_on_request_body(uint32_t id, size_t body_size, uint32_t end_of_stream) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onRequestBody(body_size, end_of_stream != 0)
                                 : FilterDataStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_request_trailers)
uint32_t proxy_on_request_trailers(uint32_t id, uint32_t trailers) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onRequestTrailers(trailers) : FilterTrailersStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t id, uint32_t headers, uint32_t end_of_stream) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onResponseHeaders(headers, end_of_stream != 0)
                                 : FilterHeadersStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_response_body)
uint32_t proxy_on_response_body(uint32_t id, size_t body_size, uint32_t end_of_stream) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onResponseBody(body_size, end_of_stream != 0)
                                 : FilterDataStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_response_trailers)
uint32_t proxy_on_response_trailers(uint32_t id, uint32_t trailers) {
  Context* c = getContext(id);
  return static_cast<uint32_t>(c ? c->onResponseTrailers(trailers)
                                 : FilterTrailersStatus::Continue);
}

PROXY_WASM_CALLBACK(proxy_on_http_call_response)
void proxy_on_http_call_response(uint32_t id, uint32_t token, uint32_t headers, size_t body_size,
                                 uint32_t trailers) {
  // The host answers the context that was current when the call was made; calls belong to
  // the root context, also when a stream callback issued them.
  RootContext* root = getRootContext(id);
  if (!root)
    if (Context* c = getContext(id)) root = c->root();
  if (root) root->onHttpCallResponse(token, headers, body_size, trailers);
}

PROXY_WASM_CALLBACK(proxy_on_done) uint32_t proxy_on_done(uint32_t id) {
  ContextBase* c = getContextBase(id);
  return c ? c->onDoneBase() : 1;
}

PROXY_WASM_CALLBACK(proxy_on_log) void proxy_on_log(uint32_t id) {
  if (ContextBase* c = getContextBase(id)) c->onLog();
}

PROXY_WASM_CALLBACK(proxy_on_delete) void proxy_on_delete(uint32_t id) {
  auto& contexts = registry().contexts;
  auto it = contexts.find(id);
  if (it == contexts.end()) return;
  it->second->onDelete();
  if (RootContext* root = it->second->asRoot()) {
    auto& roots = registry().roots;
    auto r = roots.find(std::string(root->root_id()));
    if (r != roots.end() && r->second == root) roots.erase(r);
  }
  // Erase by key: onDelete may have created or removed other contexts.
  contexts.erase(id);
}
