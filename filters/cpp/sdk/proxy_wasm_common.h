// ABI-level types shared by host calls and callbacks (proxy-wasm 0.2.1): status codes and the
// selectors for header maps, buffers and streams. The values are fixed by the ABI; the names are
// those the proxy-wasm C++ SDK uses, so code written against it compiles here.
#pragma once

#include <cstdint>
#include <string>

enum class WasmResult : uint32_t {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
};

// The enumerator's name, for log messages.
inline std::string toString(WasmResult r) {
  static const char* const kNames[] = {
      "Ok",           "NotFound", "BadArgument", "SerializationFailure", "ParseFailure",
      "BadExpression", "InvalidMemoryAccess", "Empty", "CasMismatch", "ResultMismatch",
      "InternalFailure", "BrokenConnection", "Unimplemented"};
  auto i = static_cast<uint32_t>(r);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "Unknown";
}

enum class WasmHeaderMapType : int32_t {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
  MAX = 7,
};

enum class WasmBufferType : int32_t {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  NetworkDownstreamData = 2,
  NetworkUpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  CallData = 8,
  MAX = 8,
};

enum class WasmBufferFlags : int32_t { EndOfStream = 1 };

enum class WasmStreamType : int32_t {
  Request = 0,
  Response = 1,
  Downstream = 2,
  Upstream = 3,
  MAX = 3,
};
