// filterbench's own C++ layer over the proxy-wasm ABI 0.2.1: host-function imports, typed
// wrappers, root/stream context classes and the dispatcher behind the exported proxy_on_*
// callbacks. Builds for wasm32-wasi (imports from module "env", exports by export_name) and
// natively as a shared library (imports resolved against the native shim; pointers and sizes
// are 64-bit there).
//
// A filter defines a RootContext and a Context subclass and registers them once with
// PROXY_WASM_REGISTER_FILTER(RootClass, ContextClass).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__wasm__)
#define PW_IMPORT(name) extern "C" __attribute__((import_module("env"), import_name(#name)))
#define PW_EXPORT(name) extern "C" __attribute__((export_name(#name), used))
#else
#define PW_IMPORT(name) extern "C" __attribute__((visibility("default")))
#define PW_EXPORT(name) extern "C" __attribute__((visibility("default"), used))
#endif

namespace proxy {

// ---- ABI values ----------------------------------------------------------------------------

enum class Status : uint32_t {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  InternalFailure = 10,
  Unimplemented = 12,
};

enum class LogLevel : uint32_t { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 };

enum class MapType : uint32_t {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
};

enum class BufferType : uint32_t {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
};

// What header/trailer callbacks return (the ABI's Action: 0 = continue, 1 = pause).
enum class FilterHeadersStatus : uint32_t { Continue = 0, StopIteration = 1 };
enum class FilterTrailersStatus : uint32_t { Continue = 0, StopIteration = 1 };
enum class FilterDataStatus : uint32_t { Continue = 0, StopIterationAndBuffer = 1 };

using HeaderPairs = std::vector<std::pair<std::string, std::string>>;
using HeaderView = std::vector<std::pair<std::string_view, std::string_view>>;

// ---- Bytes handed over by the host ---------------------------------------------------------

// A buffer the host allocated in our memory (through proxy_on_memory_allocate); freed here.
class Bytes {
 public:
  Bytes() = default;
  Bytes(char* data, size_t size) : data_(data), size_(size) {}
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  Bytes(Bytes&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
  Bytes& operator=(Bytes&& o) noexcept;
  ~Bytes();

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return std::string_view(data_ ? data_ : "", size_); }
  std::string str() const { return std::string(view()); }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

// ---- Host calls ------------------------------------------------------------------------------

void log(LogLevel level, std::string_view message);
inline void logWarn(std::string_view message) { log(LogLevel::Warn, message); }

// Nanoseconds since the epoch, from the host clock.
uint64_t currentTimeNanoseconds();

// Buffer bytes [start, start + max); std::nullopt if the host has no such buffer.
std::optional<Bytes> getBufferBytes(BufferType type, size_t start, size_t max);
Status setBufferBytes(BufferType type, size_t start, size_t size, std::string_view data);

// Header maps (names are lowercased by the host).
std::optional<Bytes> getHeaderMapValue(MapType type, std::string_view key);
Status addHeaderMapValue(MapType type, std::string_view key, std::string_view value);
Status replaceHeaderMapValue(MapType type, std::string_view key, std::string_view value);
Status removeHeaderMapValue(MapType type, std::string_view key);
HeaderPairs getHeaderMapPairs(MapType type);
Status setHeaderMapPairs(MapType type, const HeaderView& pairs);

// The ABI's serialised form of a header map.
std::string serializePairs(const HeaderView& pairs);
bool deserializePairs(std::string_view bytes, HeaderPairs& out);

Status sendLocalResponse(uint32_t status, std::string_view details, std::string_view body,
                         const HeaderView& headers, int32_t grpc_status = -1);

// A property by path segments (sent NUL-separated); std::nullopt when the host has none.
std::optional<Bytes> getProperty(const std::vector<std::string_view>& path);

// Shared data (per VM id, across VMs).
struct SharedValue {
  Bytes value;
  uint32_t cas = 0;
};
std::optional<SharedValue> getSharedData(std::string_view key);
Status setSharedData(std::string_view key, std::string_view value, uint32_t cas = 0);

// ---- Contexts --------------------------------------------------------------------------------

class RootContext;

class ContextBase {
 public:
  explicit ContextBase(uint32_t id) : id_(id) {}
  virtual ~ContextBase() = default;
  uint32_t id() const { return id_; }
  virtual bool isRoot() const { return false; }

  virtual bool onDone() { return true; }
  virtual void onLog() {}
  virtual void onDelete() {}

 private:
  uint32_t id_;
};

// One stream (an HTTP request/response).
class Context : public ContextBase {
 public:
  Context(uint32_t id, RootContext* root) : ContextBase(id), root_(root) {}
  RootContext* root() const { return root_; }

  virtual void onCreate() {}
  virtual FilterHeadersStatus onRequestHeaders(uint32_t /*headers*/, bool /*end_of_stream*/) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterDataStatus onRequestBody(size_t /*body_size*/, bool /*end_of_stream*/) {
    return FilterDataStatus::Continue;
  }
  virtual FilterTrailersStatus onRequestTrailers(uint32_t /*trailers*/) {
    return FilterTrailersStatus::Continue;
  }
  virtual FilterHeadersStatus onResponseHeaders(uint32_t /*headers*/, bool /*end_of_stream*/) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterDataStatus onResponseBody(size_t /*body_size*/, bool /*end_of_stream*/) {
    return FilterDataStatus::Continue;
  }
  virtual FilterTrailersStatus onResponseTrailers(uint32_t /*trailers*/) {
    return FilterTrailersStatus::Continue;
  }

 private:
  RootContext* root_;
};

// The plugin: receives the configuration and makes the stream contexts.
class RootContext : public ContextBase {
 public:
  explicit RootContext(uint32_t id) : ContextBase(id) {}
  bool isRoot() const override { return true; }

  virtual bool onVmStart(size_t /*vm_configuration_size*/) { return true; }
  virtual bool onConfigure(size_t /*configuration_size*/) { return true; }

  // The plugin configuration, or std::nullopt when there is none.
  std::optional<Bytes> pluginConfiguration() const;
};

// ---- Registration ----------------------------------------------------------------------------

using RootFactory = RootContext* (*)(uint32_t id);
using ContextFactory = Context* (*)(uint32_t id, RootContext* root);

struct Registration {
  Registration(RootFactory root, ContextFactory context);
};

}  // namespace proxy

// Registers the filter's root and stream context classes (once per filter).
#define PROXY_WASM_REGISTER_FILTER(ROOT, CONTEXT)                                               \
  static ::proxy::Registration proxy_wasm_registration_{                                        \
      [](uint32_t id) -> ::proxy::RootContext* { return new ROOT(id); },                        \
      [](uint32_t id, ::proxy::RootContext* root) -> ::proxy::Context* {                        \
        return new CONTEXT(id, static_cast<ROOT*>(root));                                       \
      }}
