// filterbench's C++ plugin API over proxy-wasm 0.2.1. It speaks the proxy-wasm C++ SDK's API
// (same class, function and macro names and signatures) for what HTTP and TCP filters use:
// contexts and their callbacks, factories, header/body/buffer/property/metric/shared-data/log
// calls and WasmData, so plugins written as the SDK documents compile unchanged. The code is
// our own. Not provided: the gRPC call handlers and the protobuf helpers (see README.md here).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proxy_wasm_common.h"
#include "proxy_wasm_enums.h"
#include "proxy_wasm_externs.h"

namespace proxy_wasm_detail {
// "[file:line]::function() ", the prefix of the LOG_* macros.
std::string logPrefix(const char* file, int line, const char* function);
[[noreturn]] void checkFailed(const char* expression);
}  // namespace proxy_wasm_detail

// Logs `expression` at critical level and aborts the plugin unless it yields WasmResult::Ok.
#define CHECK_RESULT(expression)                                              \
  do {                                                                        \
    if ((expression) != WasmResult::Ok) ::proxy_wasm_detail::checkFailed(#expression); \
  } while (0)

// ---- Logging ---------------------------------------------------------------------------------

inline WasmResult logTrace(std::string_view m) { return proxy_log(LogLevel::trace, m.data(), m.size()); }
inline WasmResult logDebug(std::string_view m) { return proxy_log(LogLevel::debug, m.data(), m.size()); }
inline WasmResult logInfo(std::string_view m) { return proxy_log(LogLevel::info, m.data(), m.size()); }
inline WasmResult logWarn(std::string_view m) { return proxy_log(LogLevel::warn, m.data(), m.size()); }
inline WasmResult logError(std::string_view m) { return proxy_log(LogLevel::error, m.data(), m.size()); }
inline WasmResult logCritical(std::string_view m) {
  return proxy_log(LogLevel::critical, m.data(), m.size());
}
// Logs at critical level, then aborts the plugin (a trap in wasm).
[[noreturn]] inline void logAbort(std::string_view m) {
  logCritical(m);
  std::abort();
}

// LOG_INFO("text" + std::to_string(n)): the message with its source location prepended.
#define LOG(level, ...) \
  log##level(::proxy_wasm_detail::logPrefix(__FILE__, __LINE__, __func__) + (__VA_ARGS__))
#define LOG_TRACE(...) LOG(Trace, __VA_ARGS__)
#define LOG_DEBUG(...) LOG(Debug, __VA_ARGS__)
#define LOG_INFO(...) LOG(Info, __VA_ARGS__)
#define LOG_WARN(...) LOG(Warn, __VA_ARGS__)
#define LOG_ERROR(...) LOG(Error, __VA_ARGS__)
#define LOG_CRITICAL(...) LOG(Critical, __VA_ARGS__)

// ---- Data from the host ------------------------------------------------------------------------

// Bytes the host allocated in our memory (through proxy_on_memory_allocate); freed with it.
class WasmData {
 public:
  WasmData(const char* data, size_t size) : data_(data), size_(size) {}
  ~WasmData() { std::free(const_cast<char*>(data_)); }
  WasmData(const WasmData&) = delete;
  WasmData& operator=(const WasmData&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return data_ ? std::string_view(data_, size_) : std::string_view(); }
  std::string toString() const { return std::string(view()); }
  // The buffer read as a serialised header map; the views point into this buffer. Empty if
  // the bytes are not a well-formed map.
  std::vector<std::pair<std::string_view, std::string_view>> pairs() const;
  // The buffer parsed as protobuf message T (needs the protobuf library in the build).
  template <typename T>
  T proto() const {
    T message;
    message.ParseFromArray(data_, static_cast<int>(size_));
    return message;
  }

 private:
  const char* data_;
  size_t size_;
};
using WasmDataPtr = std::unique_ptr<WasmData>;

using HeaderStringPairs = std::vector<std::pair<std::string, std::string>>;

// ---- The serialised header map: u32 count, (u32 key size, u32 value size) per entry, then each
// key and value followed by a NUL; little-endian. -------------------------------------------------

template <typename Pairs>
size_t pairsSize(const Pairs& pairs) {
  size_t total = sizeof(uint32_t);
  for (const auto& p : pairs) total += 2 * sizeof(uint32_t) + p.first.size() + p.second.size() + 2;
  return total;
}

namespace proxy_wasm_detail {
inline char* putU32(char* at, size_t v) {
  uint32_t x = static_cast<uint32_t>(v);
  unsigned char le[4] = {static_cast<unsigned char>(x), static_cast<unsigned char>(x >> 8),
                         static_cast<unsigned char>(x >> 16), static_cast<unsigned char>(x >> 24)};
  std::memcpy(at, le, 4);
  return at + 4;
}
inline char* putBytes(char* at, std::string_view s) {
  if (!s.empty()) std::memcpy(at, s.data(), s.size());
  at[s.size()] = '\0';
  return at + s.size() + 1;
}
}  // namespace proxy_wasm_detail

// Writes `pairs` serialised to `buffer`, which holds pairsSize(pairs) bytes.
template <typename Pairs>
void marshalPairs(const Pairs& pairs, char* buffer) {
  char* at = proxy_wasm_detail::putU32(buffer, pairs.size());
  for (const auto& p : pairs) {
    at = proxy_wasm_detail::putU32(at, p.first.size());
    at = proxy_wasm_detail::putU32(at, p.second.size());
  }
  for (const auto& p : pairs) {
    at = proxy_wasm_detail::putBytes(at, p.first);
    at = proxy_wasm_detail::putBytes(at, p.second);
  }
}

// Serialises `pairs` into a malloc'd buffer (nullptr and 0 for no pairs); the caller frees it.
template <typename Pairs>
void exportPairs(const Pairs& pairs, const char** ptr, size_t* size_ptr) {
  *ptr = nullptr;
  *size_ptr = 0;
  if (pairs.empty()) return;
  size_t size = pairsSize(pairs);
  char* buffer = static_cast<char*>(std::malloc(size));
  marshalPairs(pairs, buffer);
  *ptr = buffer;
  *size_ptr = size;
}

// Hashers for using pairs and triples as unordered_map keys.
struct PairHash {
  template <typename A, typename B>
  size_t operator()(const std::pair<A, B>& p) const {
    return std::hash<A>()(p.first) * 31 + std::hash<B>()(p.second);
  }
};
struct Tuple3Hash {
  template <typename A, typename B, typename C>
  size_t operator()(const std::tuple<A, B, C>& t) const {
    return (std::hash<A>()(std::get<0>(t)) * 31 + std::hash<B>()(std::get<1>(t))) * 31 +
           std::hash<C>()(std::get<2>(t));
  }
};

// ---- Contexts ----------------------------------------------------------------------------------

class RootContext;
class Context;

// What the plugin and stream contexts share: identity and lifecycle callbacks.
class ContextBase {
 public:
  explicit ContextBase(uint32_t id) : id_(id) {}
  virtual ~ContextBase() = default;

  uint32_t id() const { return id_; }
  // Makes this context the one later host calls apply to (e.g. from a root's timer).
  WasmResult setEffectiveContext() { return proxy_set_effective_context(id_); }

  virtual RootContext* asRoot() { return nullptr; }
  virtual Context* asContext() { return nullptr; }

  virtual void onCreate() {}
  // True when the host may delete the context now (see RootContext::onDone).
  virtual bool onDoneBase() = 0;
  virtual void onLog() {}
  virtual void onDelete() {}
  virtual void onForeignFunction(uint32_t /*foreign_function_id*/, uint32_t /*data_size*/) {}

  WasmResult getLogLevel(LogLevel* level) { return proxy_get_log_level(level); }

  using HttpCallCallback =
      std::function<void(uint32_t num_headers, size_t body_size, uint32_t num_trailers)>;
  using GrpcSimpleCallCallback = std::function<void(GrpcStatus status, size_t body_size)>;

 private:
  uint32_t id_;
};

// The plugin context: one per plugin per VM; gets the configuration and the timer.
class RootContext : public ContextBase {
 public:
  RootContext(uint32_t id, std::string_view root_id) : ContextBase(id), root_id_(root_id) {}

  std::string_view root_id() const { return root_id_; }
  RootContext* asRoot() override { return this; }
  Context* asContext() override { return nullptr; }

  virtual bool validateConfiguration(size_t /*configuration_size*/) { return true; }
  virtual bool onConfigure(size_t /*configuration_size*/) { return true; }
  virtual bool onStart(size_t /*vm_configuration_size*/) { return true; }
  virtual void onTick() {}
  virtual void onQueueReady(uint32_t /*token*/) {}
  // Returning false defers shutdown until the plugin calls done().
  virtual bool onDone() { return true; }
  void done() { proxy_done(); }

  // Runs and forgets the callback httpCall registered for `token`.
  virtual void onHttpCallResponse(uint32_t token, uint32_t headers, size_t body_size,
                                  uint32_t trailers);
  WasmResult httpCall(std::string_view uri, const HeaderStringPairs& request_headers,
                      std::string_view request_body, const HeaderStringPairs& request_trailers,
                      uint32_t timeout_milliseconds, HttpCallCallback callback);

 private:
  bool onDoneBase() override { return onDone(); }

  const std::string root_id_;
  std::unordered_map<uint32_t, HttpCallCallback> http_calls_;
};

// A stream context: one HTTP request/response or one TCP connection.
class Context : public ContextBase {
 public:
  Context(uint32_t id, RootContext* root) : ContextBase(id), root_(root) {}

  RootContext* root() const { return root_; }
  RootContext* asRoot() override { return nullptr; }
  Context* asContext() override { return this; }

  // TCP.
  virtual FilterStatus onNewConnection() { return FilterStatus::Continue; }
  virtual FilterStatus onDownstreamData(size_t /*data_size*/, bool /*end_of_stream*/) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus onUpstreamData(size_t /*data_size*/, bool /*end_of_stream*/) {
    return FilterStatus::Continue;
  }
  virtual void onDownstreamConnectionClose(CloseType) {}
  virtual void onUpstreamConnectionClose(CloseType) {}

  // HTTP.
  virtual FilterHeadersStatus onRequestHeaders(uint32_t /*headers*/, bool /*end_of_stream*/) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterMetadataStatus onRequestMetadata(uint32_t /*elements*/) {
    return FilterMetadataStatus::Continue;
  }
  virtual FilterDataStatus onRequestBody(size_t /*body_buffer_length*/, bool /*end_of_stream*/) {
    return FilterDataStatus::Continue;
  }
  virtual FilterTrailersStatus onRequestTrailers(uint32_t /*trailers*/) {
    return FilterTrailersStatus::Continue;
  }
  virtual FilterHeadersStatus onResponseHeaders(uint32_t /*headers*/, bool /*end_of_stream*/) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterMetadataStatus onResponseMetadata(uint32_t /*elements*/) {
    return FilterMetadataStatus::Continue;
  }
  virtual FilterDataStatus onResponseBody(size_t /*body_buffer_length*/, bool /*end_of_stream*/) {
    return FilterDataStatus::Continue;
  }
  virtual FilterTrailersStatus onResponseTrailers(uint32_t /*trailers*/) {
    return FilterTrailersStatus::Continue;
  }

  virtual void onDone() {}

 private:
  // A stream context never defers its deletion.
  bool onDoneBase() override {
    onDone();
    return true;
  }

  RootContext* root_;
};

// Live contexts by id; nullptr if there is none (or it is of the other kind).
ContextBase* getContextBase(uint32_t context_id);
Context* getContext(uint32_t context_id);
RootContext* getRootContext(uint32_t context_id);
// The plugin context created for `root_id` in this VM, if any.
RootContext* getRoot(std::string_view root_id);

// ---- Registration --------------------------------------------------------------------------------

using RootFactory =
    std::function<std::unique_ptr<RootContext>(uint32_t id, std::string_view root_id)>;
using ContextFactory = std::function<std::unique_ptr<Context>(uint32_t id, RootContext* root)>;

#define ROOT_FACTORY(type)                                                          \
  [](uint32_t id, std::string_view root_id) -> std::unique_ptr<RootContext> {       \
    return std::unique_ptr<RootContext>(new type(id, root_id));                     \
  }
#define CONTEXT_FACTORY(type)                                                       \
  [](uint32_t id, RootContext* root) -> std::unique_ptr<Context> {                  \
    return std::unique_ptr<Context>(new type(id, root));                            \
  }

// A static instance registers the factories for plugins whose root id is `root_id`. A plugin
// whose root id has no registration gets the "" one, else the plain contexts.
struct RegisterContextFactory {
  RegisterContextFactory(ContextFactory context_factory, RootFactory root_factory,
                         std::string_view root_id = "");
  explicit RegisterContextFactory(RootFactory root_factory, std::string_view root_id = "")
      : RegisterContextFactory(ContextFactory(), std::move(root_factory), root_id) {}
  explicit RegisterContextFactory(ContextFactory context_factory, std::string_view root_id = "")
      : RegisterContextFactory(std::move(context_factory), RootFactory(), root_id) {}
};

// ---- Properties and status -----------------------------------------------------------------------

inline std::pair<uint32_t, WasmDataPtr> getStatus() {
  uint32_t code = 0;
  const char* message = nullptr;
  size_t size = 0;
  CHECK_RESULT(proxy_get_status(&code, &message, &size));
  return {code, std::make_unique<WasmData>(message, size)};
}

namespace proxy_wasm_detail {
// A property path goes to the host as each segment followed by a NUL.
template <typename Parts>
std::optional<WasmDataPtr> getPropertyPath(const Parts& parts) {
  std::string path;
  for (const auto& part : parts) {
    path.append(part.data(), part.size());
    path.push_back('\0');
  }
  const char* value = nullptr;
  size_t size = 0;
  if (proxy_get_property(path.data(), path.size(), &value, &size) != WasmResult::Ok)
    return std::nullopt;
  return std::make_unique<WasmData>(value, size);
}
template <typename T>
bool decodeValue(std::optional<WasmDataPtr> bytes, T* out) {
  if (!bytes) return false;
  const WasmData& data = **bytes;
  if constexpr (std::is_same_v<T, std::string>) {
    out->assign(data.view());
    return true;
  } else {
    static_assert(std::is_trivially_copyable_v<T>, "getValue reads plain values or strings");
    if (data.size() != sizeof(T)) return false;
    std::memcpy(out, data.data(), sizeof(T));
    return true;
  }
}
template <typename T>
bool decodeMessage(std::optional<WasmDataPtr> bytes, T* out) {
  if (!bytes) return false;
  if ((*bytes)->size() == 0) return true;  // an empty message
  return out->ParseFromArray((*bytes)->data(), static_cast<int>((*bytes)->size()));
}
}  // namespace proxy_wasm_detail

// A property by path, e.g. getProperty({"request", "path"}); std::nullopt if the host has none.
inline std::optional<WasmDataPtr> getProperty(const std::initializer_list<std::string_view>& parts) {
  return proxy_wasm_detail::getPropertyPath(parts);
}
template <typename S>
std::optional<WasmDataPtr> getProperty(const std::vector<S>& parts) {
  return proxy_wasm_detail::getPropertyPath(parts);
}

// A property as a plain value of exactly sizeof(T) bytes, or as a std::string.
template <typename T>
bool getValue(const std::initializer_list<std::string_view>& parts, T* out) {
  return proxy_wasm_detail::decodeValue(getProperty(parts), out);
}
template <typename S, typename T>
bool getValue(const std::vector<S>& parts, T* out) {
  return proxy_wasm_detail::decodeValue(getProperty(parts), out);
}
// A property parsed as protobuf message T.
template <typename T>
bool getMessageValue(const std::initializer_list<std::string_view>& parts, T* out) {
  return proxy_wasm_detail::decodeMessage(getProperty(parts), out);
}
template <typename S, typename T>
bool getMessageValue(const std::vector<S>& parts, T* out) {
  return proxy_wasm_detail::decodeMessage(getProperty(parts), out);
}

inline WasmResult setFilterState(std::string_view key, std::string_view value) {
  return proxy_set_property(key.data(), key.size(), value.data(), value.size());
}
inline WasmResult setFilterStateStringValue(std::string_view key, std::string_view s) {
  return setFilterState(key, s);
}

// ---- Stream control --------------------------------------------------------------------------------

inline WasmResult continueRequest() { return proxy_continue_stream(WasmStreamType::Request); }
inline WasmResult continueResponse() { return proxy_continue_stream(WasmStreamType::Response); }
inline WasmResult continueDownstream() { return proxy_continue_stream(WasmStreamType::Downstream); }
inline WasmResult continueUpstream() { return proxy_continue_stream(WasmStreamType::Upstream); }
inline WasmResult closeRequest() { return proxy_close_stream(WasmStreamType::Request); }
inline WasmResult closeResponse() { return proxy_close_stream(WasmStreamType::Response); }
inline WasmResult closeDownstream() { return proxy_close_stream(WasmStreamType::Downstream); }
inline WasmResult closeUpstream() { return proxy_close_stream(WasmStreamType::Upstream); }

inline WasmResult sendLocalResponse(uint32_t response_code, std::string_view response_code_details,
                                    std::string_view body,
                                    const HeaderStringPairs& additional_response_headers,
                                    GrpcStatus grpc_status = GrpcStatus::InvalidCode) {
  const char* headers = nullptr;
  size_t headers_size = 0;
  exportPairs(additional_response_headers, &headers, &headers_size);
  WasmResult r = proxy_send_local_response(
      response_code, response_code_details.data(), response_code_details.size(), body.data(),
      body.size(), headers, headers_size, static_cast<uint32_t>(grpc_status));
  std::free(const_cast<char*>(headers));
  return r;
}

// ---- Shared data and queues -----------------------------------------------------------------------

inline WasmResult getSharedData(std::string_view key, WasmDataPtr* value, uint32_t* cas = nullptr) {
  const char* data = nullptr;
  size_t size = 0;
  uint32_t ignored = 0;
  WasmResult r = proxy_get_shared_data(key.data(), key.size(), &data, &size, cas ? cas : &ignored);
  if (r == WasmResult::Ok) *value = std::make_unique<WasmData>(data, size);
  return r;
}
inline WasmResult setSharedData(std::string_view key, std::string_view value, uint32_t cas = 0) {
  return proxy_set_shared_data(key.data(), key.size(), value.data(), value.size(), cas);
}
// The value for `key`; aborts the plugin if there is none.
inline WasmDataPtr getSharedDataValue(std::string_view key, uint32_t* cas = nullptr) {
  WasmDataPtr value;
  WasmResult r = getSharedData(key, &value, cas);
  if (r != WasmResult::Ok) logAbort("getSharedData returned WasmError: " + toString(r));
  return value;
}

inline WasmResult registerSharedQueue(std::string_view queue_name, uint32_t* token) {
  return proxy_register_shared_queue(queue_name.data(), queue_name.size(), token);
}
inline WasmResult resolveSharedQueue(std::string_view vm_id, std::string_view queue_name,
                                     uint32_t* token) {
  return proxy_resolve_shared_queue(vm_id.data(), vm_id.size(), queue_name.data(),
                                    queue_name.size(), token);
}
inline WasmResult enqueueSharedQueue(uint32_t token, std::string_view data) {
  return proxy_enqueue_shared_queue(token, data.data(), data.size());
}
inline WasmResult dequeueSharedQueue(uint32_t token, WasmDataPtr* data) {
  const char* ptr = nullptr;
  size_t size = 0;
  WasmResult r = proxy_dequeue_shared_queue(token, &ptr, &size);
  *data = std::make_unique<WasmData>(ptr, size);
  return r;
}

// ---- Header maps -------------------------------------------------------------------------------------

inline WasmResult addHeaderMapValue(WasmHeaderMapType type, std::string_view key,
                                    std::string_view value) {
  return proxy_add_header_map_value(type, key.data(), key.size(), value.data(), value.size());
}
// The value of `key`; empty (data() == nullptr) when the map has no such key.
inline WasmDataPtr getHeaderMapValue(WasmHeaderMapType type, std::string_view key) {
  const char* value = nullptr;
  size_t size = 0;
  if (proxy_get_header_map_value(type, key.data(), key.size(), &value, &size) != WasmResult::Ok)
    value = nullptr, size = 0;
  return std::make_unique<WasmData>(value, size);
}
inline WasmResult replaceHeaderMapValue(WasmHeaderMapType type, std::string_view key,
                                        std::string_view value) {
  return proxy_replace_header_map_value(type, key.data(), key.size(), value.data(), value.size());
}
inline WasmResult removeHeaderMapValue(WasmHeaderMapType type, std::string_view key) {
  return proxy_remove_header_map_value(type, key.data(), key.size());
}
// The whole map, serialised; read it with pairs().
inline WasmDataPtr getHeaderMapPairs(WasmHeaderMapType type) {
  const char* data = nullptr;
  size_t size = 0;
  if (proxy_get_header_map_pairs(type, &data, &size) != WasmResult::Ok) data = nullptr, size = 0;
  return std::make_unique<WasmData>(data, size);
}
inline WasmResult setHeaderMapPairs(WasmHeaderMapType type, const HeaderStringPairs& pairs) {
  const char* data = nullptr;
  size_t size = 0;
  exportPairs(pairs, &data, &size);
  WasmResult r = proxy_set_header_map_pairs(type, data, size);
  std::free(const_cast<char*>(data));
  return r;
}
// The number of entries. ABI 0.2.1 has no proxy_get_header_map_size, so this reads the count
// off the serialised map.
WasmResult getHeaderMapSize(WasmHeaderMapType type, size_t* size);

// The same per map, as the SDK spells them.
#define PROXY_WASM_MAP_HELPERS(Name, Type)                                                        \
  inline WasmResult add##Name(std::string_view key, std::string_view value) {                    \
    return addHeaderMapValue(WasmHeaderMapType::Type, key, value);                               \
  }                                                                                               \
  inline WasmDataPtr get##Name(std::string_view key) {                                           \
    return getHeaderMapValue(WasmHeaderMapType::Type, key);                                      \
  }                                                                                               \
  inline WasmResult replace##Name(std::string_view key, std::string_view value) {                \
    return replaceHeaderMapValue(WasmHeaderMapType::Type, key, value);                           \
  }                                                                                               \
  inline WasmResult remove##Name(std::string_view key) {                                         \
    return removeHeaderMapValue(WasmHeaderMapType::Type, key);                                   \
  }                                                                                               \
  inline WasmDataPtr get##Name##Pairs() { return getHeaderMapPairs(WasmHeaderMapType::Type); }   \
  inline WasmResult set##Name##Pairs(const HeaderStringPairs& pairs) {                           \
    return setHeaderMapPairs(WasmHeaderMapType::Type, pairs);                                    \
  }                                                                                               \
  inline WasmResult get##Name##Size(size_t* size) {                                              \
    return getHeaderMapSize(WasmHeaderMapType::Type, size);                                      \
  }
PROXY_WASM_MAP_HELPERS(RequestHeader, RequestHeaders)
PROXY_WASM_MAP_HELPERS(RequestTrailer, RequestTrailers)
PROXY_WASM_MAP_HELPERS(ResponseHeader, ResponseHeaders)
PROXY_WASM_MAP_HELPERS(ResponseTrailer, ResponseTrailers)
#undef PROXY_WASM_MAP_HELPERS

// ---- Buffers ---------------------------------------------------------------------------------------

// Bytes [start, start + length) of the buffer; empty if the host has no such buffer.
inline WasmDataPtr getBufferBytes(WasmBufferType type, size_t start, size_t length) {
  const char* data = nullptr;
  size_t size = 0;
  if (proxy_get_buffer_bytes(type, start, length, &data, &size) != WasmResult::Ok)
    data = nullptr, size = 0;
  return std::make_unique<WasmData>(data, size);
}
// The buffer's size (flags are always 0). ABI 0.2.1 has no proxy_get_buffer_status, so this
// fetches the buffer: prefer the size the callback was given.
WasmResult getBufferStatus(WasmBufferType type, size_t* size, uint32_t* flags);
// Replaces bytes [start, start + length) with `data`; `new_size`, if given, is adjusted.
inline WasmResult setBuffer(WasmBufferType type, size_t start, size_t length,
                            std::string_view data, size_t* new_size = nullptr) {
  WasmResult r = proxy_set_buffer_bytes(type, start, length, data.data(), data.size());
  if (r == WasmResult::Ok && new_size) *new_size = *new_size - length + data.size();
  return r;
}

// ---- Outbound calls ------------------------------------------------------------------------------

// Serialises `headers` into a malloc'd buffer (nullptr and 0 for none); the caller frees it.
inline void MakeHeaderStringPairsBuffer(const HeaderStringPairs& headers, void** buffer_ptr,
                                        size_t* size_ptr) {
  const char* data = nullptr;
  exportPairs(headers, &data, size_ptr);
  *buffer_ptr = const_cast<char*>(data);
}

inline WasmResult makeHttpCall(std::string_view uri, const HeaderStringPairs& request_headers,
                               std::string_view request_body,
                               const HeaderStringPairs& request_trailers,
                               uint32_t timeout_milliseconds, uint32_t* token_ptr) {
  void* headers = nullptr;
  void* trailers = nullptr;
  size_t headers_size = 0;
  size_t trailers_size = 0;
  MakeHeaderStringPairsBuffer(request_headers, &headers, &headers_size);
  MakeHeaderStringPairsBuffer(request_trailers, &trailers, &trailers_size);
  WasmResult r = proxy_http_call(uri.data(), uri.size(), headers, headers_size,
                                 request_body.data(), request_body.size(), trailers,
                                 trailers_size, timeout_milliseconds, token_ptr);
  std::free(headers);
  std::free(trailers);
  return r;
}

inline WasmResult grpcCall(std::string_view service, std::string_view service_name,
                           std::string_view method_name, const HeaderStringPairs& initial_metadata,
                           std::string_view request, uint32_t timeout_milliseconds,
                           uint32_t* token_ptr) {
  void* metadata = nullptr;
  size_t metadata_size = 0;
  MakeHeaderStringPairsBuffer(initial_metadata, &metadata, &metadata_size);
  WasmResult r = proxy_grpc_call(service.data(), service.size(), service_name.data(),
                                 service_name.size(), method_name.data(), method_name.size(),
                                 metadata, metadata_size, request.data(), request.size(),
                                 timeout_milliseconds, token_ptr);
  std::free(metadata);
  return r;
}
inline WasmResult grpcStream(std::string_view service, std::string_view service_name,
                             std::string_view method_name,
                             const HeaderStringPairs& initial_metadata, uint32_t* token_ptr) {
  void* metadata = nullptr;
  size_t metadata_size = 0;
  MakeHeaderStringPairsBuffer(initial_metadata, &metadata, &metadata_size);
  WasmResult r = proxy_grpc_stream(service.data(), service.size(), service_name.data(),
                                   service_name.size(), method_name.data(), method_name.size(),
                                   metadata, metadata_size, token_ptr);
  std::free(metadata);
  return r;
}
inline WasmResult grpcCancel(uint32_t token) { return proxy_grpc_cancel(token); }
inline WasmResult grpcClose(uint32_t token) { return proxy_grpc_close(token); }
inline WasmResult grpcSend(uint32_t token, std::string_view message, bool end_stream) {
  return proxy_grpc_send(token, message.data(), message.size(), end_stream ? 1 : 0);
}

// ---- Time ----------------------------------------------------------------------------------------

inline uint64_t getCurrentTimeNanoseconds() {
  uint64_t now = 0;
  CHECK_RESULT(proxy_get_current_time_nanoseconds(&now));
  return now;
}

#include "proxy_wasm_metrics.h"
