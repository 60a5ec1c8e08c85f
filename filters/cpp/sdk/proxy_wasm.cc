// The proxy-wasm 0.2.1 layer: host imports, their typed wrappers, and the context registry
// behind the exported callbacks. See proxy_wasm.h.
#include "proxy_wasm.h"

#include <cstdlib>
#include <cstring>
#include <unordered_map>

// ---- Host imports (ABI 0.2.1); natively the shim defines them ---------------------------------

using proxy_status = uint32_t;

PW_IMPORT(proxy_log) proxy_status proxy_log(uint32_t level, const char* data, size_t size);
PW_IMPORT(proxy_get_current_time_nanoseconds)
proxy_status proxy_get_current_time_nanoseconds(uint64_t* result);
PW_IMPORT(proxy_get_buffer_bytes)
proxy_status proxy_get_buffer_bytes(uint32_t type, size_t start, size_t max, char** data,
                                    size_t* size);
PW_IMPORT(proxy_set_buffer_bytes)
proxy_status proxy_set_buffer_bytes(uint32_t type, size_t start, size_t size, const char* data,
                                    size_t data_size);
PW_IMPORT(proxy_get_header_map_pairs)
proxy_status proxy_get_header_map_pairs(uint32_t type, char** data, size_t* size);
PW_IMPORT(proxy_set_header_map_pairs)
proxy_status proxy_set_header_map_pairs(uint32_t type, const char* data, size_t size);
PW_IMPORT(proxy_get_header_map_value)
proxy_status proxy_get_header_map_value(uint32_t type, const char* key, size_t key_size,
                                        char** value, size_t* value_size);
PW_IMPORT(proxy_add_header_map_value)
proxy_status proxy_add_header_map_value(uint32_t type, const char* key, size_t key_size,
                                        const char* value, size_t value_size);
PW_IMPORT(proxy_replace_header_map_value)
proxy_status proxy_replace_header_map_value(uint32_t type, const char* key, size_t key_size,
                                            const char* value, size_t value_size);
PW_IMPORT(proxy_remove_header_map_value)
proxy_status proxy_remove_header_map_value(uint32_t type, const char* key, size_t key_size);
PW_IMPORT(proxy_send_local_response)
proxy_status proxy_send_local_response(uint32_t status, const char* details, size_t details_size,
                                       const char* body, size_t body_size, const char* headers,
                                       size_t headers_size, int32_t grpc_status);
PW_IMPORT(proxy_get_property)
proxy_status proxy_get_property(const char* path, size_t path_size, char** value,
                                size_t* value_size);
PW_IMPORT(proxy_get_shared_data)
proxy_status proxy_get_shared_data(const char* key, size_t key_size, char** value,
                                   size_t* value_size, uint32_t* cas);
PW_IMPORT(proxy_set_shared_data)
proxy_status proxy_set_shared_data(const char* key, size_t key_size, const char* value,
                                   size_t value_size, uint32_t cas);

namespace proxy {

// ---- Bytes -----------------------------------------------------------------------------------

Bytes& Bytes::operator=(Bytes&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

Bytes::~Bytes() { std::free(data_); }

// ---- Wrappers --------------------------------------------------------------------------------

void log(LogLevel level, std::string_view message) {
  proxy_log(static_cast<uint32_t>(level), message.data(), message.size());
}

uint64_t currentTimeNanoseconds() {
  uint64_t t = 0;
  proxy_get_current_time_nanoseconds(&t);
  return t;
}

std::optional<Bytes> getBufferBytes(BufferType type, size_t start, size_t max) {
  char* data = nullptr;
  size_t size = 0;
  auto s = proxy_get_buffer_bytes(static_cast<uint32_t>(type), start, max, &data, &size);
  if (s != static_cast<uint32_t>(Status::Ok)) return std::nullopt;
  return Bytes(data, data ? size : 0);
}

Status setBufferBytes(BufferType type, size_t start, size_t size, std::string_view data) {
  return static_cast<Status>(
      proxy_set_buffer_bytes(static_cast<uint32_t>(type), start, size, data.data(), data.size()));
}

std::optional<Bytes> getHeaderMapValue(MapType type, std::string_view key) {
  char* data = nullptr;
  size_t size = 0;
  auto s = proxy_get_header_map_value(static_cast<uint32_t>(type), key.data(), key.size(), &data,
                                      &size);
  if (s != static_cast<uint32_t>(Status::Ok)) return std::nullopt;
  return Bytes(data, data ? size : 0);
}

Status addHeaderMapValue(MapType type, std::string_view key, std::string_view value) {
  return static_cast<Status>(proxy_add_header_map_value(static_cast<uint32_t>(type), key.data(),
                                                        key.size(), value.data(), value.size()));
}

Status replaceHeaderMapValue(MapType type, std::string_view key, std::string_view value) {
  return static_cast<Status>(proxy_replace_header_map_value(
      static_cast<uint32_t>(type), key.data(), key.size(), value.data(), value.size()));
}

Status removeHeaderMapValue(MapType type, std::string_view key) {
  return static_cast<Status>(
      proxy_remove_header_map_value(static_cast<uint32_t>(type), key.data(), key.size()));
}

static void putU32(std::string& out, size_t at, uint32_t v) {
  out[at] = static_cast<char>(v & 0xff);
  out[at + 1] = static_cast<char>((v >> 8) & 0xff);
  out[at + 2] = static_cast<char>((v >> 16) & 0xff);
  out[at + 3] = static_cast<char>((v >> 24) & 0xff);
}

static uint32_t getU32(std::string_view in, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(in[at + i])); };
  return b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
}

std::string serializePairs(const HeaderView& pairs) {
  size_t size = 4;
  for (const auto& p : pairs) size += 8 + p.first.size() + p.second.size() + 2;
  std::string out(size, '\0');
  putU32(out, 0, static_cast<uint32_t>(pairs.size()));
  size_t at = 4;
  for (const auto& p : pairs) {
    putU32(out, at, static_cast<uint32_t>(p.first.size()));
    putU32(out, at + 4, static_cast<uint32_t>(p.second.size()));
    at += 8;
  }
  for (const auto& p : pairs) {
    if (!p.first.empty()) std::memcpy(&out[at], p.first.data(), p.first.size());
    at += p.first.size() + 1;
    if (!p.second.empty()) std::memcpy(&out[at], p.second.data(), p.second.size());
    at += p.second.size() + 1;
  }
  return out;
}

bool deserializePairs(std::string_view in, HeaderPairs& out) {
  out.clear();
  if (in.empty()) return true;
  if (in.size() < 4) return false;
  size_t n = getU32(in, 0);
  if (n > (in.size() - 4) / 8) return false;
  size_t data = 4 + n * 8;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    size_t kl = getU32(in, 4 + i * 8);
    size_t vl = getU32(in, 8 + i * 8);
    if (kl > in.size() - data) return false;
    std::string_view k = in.substr(data, kl);
    data += kl + 1;
    if (data > in.size() || vl > in.size() - data) return false;
    std::string_view v = in.substr(data, vl);
    data += vl + 1;
    out.emplace_back(std::string(k), std::string(v));
  }
  return true;
}

HeaderPairs getHeaderMapPairs(MapType type) {
  char* data = nullptr;
  size_t size = 0;
  HeaderPairs out;
  if (proxy_get_header_map_pairs(static_cast<uint32_t>(type), &data, &size) ==
      static_cast<uint32_t>(Status::Ok)) {
    Bytes bytes(data, data ? size : 0);
    deserializePairs(bytes.view(), out);
  }
  return out;
}

Status setHeaderMapPairs(MapType type, const HeaderView& pairs) {
  std::string bytes = serializePairs(pairs);
  return static_cast<Status>(
      proxy_set_header_map_pairs(static_cast<uint32_t>(type), bytes.data(), bytes.size()));
}

Status sendLocalResponse(uint32_t status, std::string_view details, std::string_view body,
                         const HeaderView& headers, int32_t grpc_status) {
  std::string h = serializePairs(headers);
  return static_cast<Status>(proxy_send_local_response(status, details.data(), details.size(),
                                                       body.data(), body.size(), h.data(),
                                                       h.size(), grpc_status));
}

std::optional<Bytes> getProperty(const std::vector<std::string_view>& path) {
  std::string joined;
  for (size_t i = 0; i < path.size(); i++) {
    if (i) joined.push_back('\0');
    joined.append(path[i]);
  }
  char* data = nullptr;
  size_t size = 0;
  if (proxy_get_property(joined.data(), joined.size(), &data, &size) !=
      static_cast<uint32_t>(Status::Ok))
    return std::nullopt;
  return Bytes(data, data ? size : 0);
}

std::optional<SharedValue> getSharedData(std::string_view key) {
  char* data = nullptr;
  size_t size = 0;
  uint32_t cas = 0;
  if (proxy_get_shared_data(key.data(), key.size(), &data, &size, &cas) !=
      static_cast<uint32_t>(Status::Ok))
    return std::nullopt;
  SharedValue v;
  v.value = Bytes(data, data ? size : 0);
  v.cas = cas;
  return v;
}

Status setSharedData(std::string_view key, std::string_view value, uint32_t cas) {
  return static_cast<Status>(
      proxy_set_shared_data(key.data(), key.size(), value.data(), value.size(), cas));
}

std::optional<Bytes> RootContext::pluginConfiguration() const {
  // The whole buffer: max is the largest size the ABI can express.
  return getBufferBytes(BufferType::PluginConfiguration, 0, static_cast<size_t>(-1) >> 1);
}

// ---- Registry --------------------------------------------------------------------------------

namespace {

// Plain pointers: constant-initialised, so registration order across files does not matter.
RootFactory g_root_factory = nullptr;
ContextFactory g_context_factory = nullptr;

std::unordered_map<uint32_t, std::unique_ptr<ContextBase>>& contexts() {
  static std::unordered_map<uint32_t, std::unique_ptr<ContextBase>> map;
  return map;
}

ContextBase* find(uint32_t id) {
  auto& map = contexts();
  auto it = map.find(id);
  return it == map.end() ? nullptr : it->second.get();
}

RootContext* findRoot(uint32_t id) {
  ContextBase* c = find(id);
  return c && c->isRoot() ? static_cast<RootContext*>(c) : nullptr;
}

Context* findStream(uint32_t id) {
  ContextBase* c = find(id);
  return c && !c->isRoot() ? static_cast<Context*>(c) : nullptr;
}

}  // namespace

Registration::Registration(RootFactory root, ContextFactory context) {
  g_root_factory = root;
  g_context_factory = context;
}

}  // namespace proxy

// ---- Exported callbacks ------------------------------------------------------------------------

using namespace proxy;

PW_EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1() {}

PW_EXPORT(proxy_on_memory_allocate) void* proxy_on_memory_allocate(size_t size) {
  return std::malloc(size ? size : 1);
}

PW_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t parent_id) {
  if (find(context_id)) return;
  if (parent_id == 0) {
    if (!g_root_factory) return;
    contexts()[context_id].reset(g_root_factory(context_id));
    return;
  }
  RootContext* root = findRoot(parent_id);
  if (!root || !g_context_factory) return;
  Context* c = g_context_factory(context_id, root);
  contexts()[context_id].reset(c);
  c->onCreate();
}

PW_EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t root_id, size_t size) {
  RootContext* root = findRoot(root_id);
  return root ? root->onVmStart(size) : 0;
}

PW_EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t root_id, size_t size) {
  RootContext* root = findRoot(root_id);
  return root ? root->onConfigure(size) : 0;
}

PW_EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t id, uint32_t headers, uint32_t end_of_stream) {
  Context* c = findStream(id);
  return c ? static_cast<uint32_t>(c->onRequestHeaders(headers, end_of_stream != 0)) : 0;
}

PW_EXPORT(proxy_on_request_body)
uint32_t proxy_on_request_body(uint32_t id, size_t body_size, uint32_t end_of_stream) {
  Context* c = findStream(id);
  return c ? static_cast<uint32_t>(c->onRequestBody(body_size, end_of_stream != 0)) : 0;
}

PW_EXPORT(proxy_on_request_trailers)
uint32_t proxy_on_request_trailers(uint32_t id, uint32_t trailers) {
  Context* c = findStream(id);
  return c ? static_cast<uint32_t>(c->onRequestTrailers(trailers)) : 0;
}

PW_EXPORT(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t id, uint32_t headers, uint32_t end_of_stream) {
  Context* c = findStream(id);
  return c ? static_cast<uint32_t>(c->onResponseHeaders(headers, end_of_stream != 0)) : 0;
}

PW_EXPORT(proxy_on_response_body)
uint32_t proxy_on_response_body(uint32_t id, size_t body_size, uint32_t end_of_stream) {
  Context* c = findStream(id);
  return c ? static_cast<uint32_t>(c->onResponseBody(body_size, end_of_stream != 0)) : 0;
}

PW_EXPORT(proxy_on_response_trailers)
uint32_t proxy_on_response_trailers(uint32_t id, uint32_t trailers) {
  Context* c = findStream(id);
  return c ? static_cast<uint32_t>(c->onResponseTrailers(trailers)) : 0;
}

PW_EXPORT(proxy_on_log) void proxy_on_log(uint32_t id) {
  if (ContextBase* c = find(id)) c->onLog();
}

PW_EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t id) {
  ContextBase* c = find(id);
  return c ? c->onDone() : 1;
}

PW_EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t id) {
  auto& map = contexts();
  auto it = map.find(id);
  if (it == map.end()) return;
  it->second->onDelete();
  map.erase(it);
}
