// The proxy-wasm 0.2.1 host functions, callable directly from plugin code as in the C++ SDK
// (e.g. proxy_set_tick_period_milliseconds). In wasm they are imports from module "env"; natively
// the filterbench native shim (native-baseline/shim) defines them, with pointers and sizes 64-bit.
//
// Only functions the 0.2.1 host provides are declared: an import the host lacks would make the
// module fail to instantiate, so calls such as proxy_get_header_map_size (0.1.0) are absent and
// their C++ wrappers are built from 0.2.1 calls instead (see proxy_wasm_api.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy_wasm_common.h"
#include "proxy_wasm_enums.h"

#if defined(__wasm__)
#define PROXY_WASM_HOSTCALL(name) \
  extern "C" __attribute__((import_module("env"), import_name(#name)))
#else
#define PROXY_WASM_HOSTCALL(name) extern "C" __attribute__((visibility("default")))
#endif

// Logging and time.
PROXY_WASM_HOSTCALL(proxy_log)
WasmResult proxy_log(LogLevel level, const char* message, size_t message_size);
PROXY_WASM_HOSTCALL(proxy_get_log_level) WasmResult proxy_get_log_level(LogLevel* level);
PROXY_WASM_HOSTCALL(proxy_get_current_time_nanoseconds)
WasmResult proxy_get_current_time_nanoseconds(uint64_t* nanoseconds);
PROXY_WASM_HOSTCALL(proxy_set_tick_period_milliseconds)
WasmResult proxy_set_tick_period_milliseconds(uint32_t milliseconds);

// Buffers (bodies, TCP data, configuration, call responses).
PROXY_WASM_HOSTCALL(proxy_get_buffer_bytes)
WasmResult proxy_get_buffer_bytes(WasmBufferType type, size_t start, size_t length,
                                  const char** data, size_t* size);
PROXY_WASM_HOSTCALL(proxy_set_buffer_bytes)
WasmResult proxy_set_buffer_bytes(WasmBufferType type, size_t start, size_t length,
                                  const char* data, size_t size);

// Header and trailer maps.
PROXY_WASM_HOSTCALL(proxy_get_header_map_pairs)
WasmResult proxy_get_header_map_pairs(WasmHeaderMapType type, const char** data, size_t* size);
PROXY_WASM_HOSTCALL(proxy_set_header_map_pairs)
WasmResult proxy_set_header_map_pairs(WasmHeaderMapType type, const char* data, size_t size);
PROXY_WASM_HOSTCALL(proxy_get_header_map_value)
WasmResult proxy_get_header_map_value(WasmHeaderMapType type, const char* key, size_t key_size,
                                      const char** value, size_t* value_size);
PROXY_WASM_HOSTCALL(proxy_add_header_map_value)
WasmResult proxy_add_header_map_value(WasmHeaderMapType type, const char* key, size_t key_size,
                                      const char* value, size_t value_size);
PROXY_WASM_HOSTCALL(proxy_replace_header_map_value)
WasmResult proxy_replace_header_map_value(WasmHeaderMapType type, const char* key,
                                          size_t key_size, const char* value, size_t value_size);
PROXY_WASM_HOSTCALL(proxy_remove_header_map_value)
WasmResult proxy_remove_header_map_value(WasmHeaderMapType type, const char* key,
                                         size_t key_size);

// Properties.
PROXY_WASM_HOSTCALL(proxy_get_property)
WasmResult proxy_get_property(const char* path, size_t path_size, const char** value,
                              size_t* value_size);
PROXY_WASM_HOSTCALL(proxy_set_property)
WasmResult proxy_set_property(const char* path, size_t path_size, const char* value,
                              size_t value_size);

// Stream control.
PROXY_WASM_HOSTCALL(proxy_continue_stream) WasmResult proxy_continue_stream(WasmStreamType type);
PROXY_WASM_HOSTCALL(proxy_close_stream) WasmResult proxy_close_stream(WasmStreamType type);
PROXY_WASM_HOSTCALL(proxy_send_local_response)
WasmResult proxy_send_local_response(uint32_t status_code, const char* details,
                                     size_t details_size, const char* body, size_t body_size,
                                     const char* headers, size_t headers_size,
                                     uint32_t grpc_status);

// Shared data and queues (across VMs).
PROXY_WASM_HOSTCALL(proxy_get_shared_data)
WasmResult proxy_get_shared_data(const char* key, size_t key_size, const char** value,
                                 size_t* value_size, uint32_t* cas);
PROXY_WASM_HOSTCALL(proxy_set_shared_data)
WasmResult proxy_set_shared_data(const char* key, size_t key_size, const char* value,
                                 size_t value_size, uint32_t cas);
PROXY_WASM_HOSTCALL(proxy_register_shared_queue)
WasmResult proxy_register_shared_queue(const char* name, size_t name_size, uint32_t* token);
PROXY_WASM_HOSTCALL(proxy_resolve_shared_queue)
WasmResult proxy_resolve_shared_queue(const char* vm_id, size_t vm_id_size, const char* name,
                                      size_t name_size, uint32_t* token);
PROXY_WASM_HOSTCALL(proxy_dequeue_shared_queue)
WasmResult proxy_dequeue_shared_queue(uint32_t token, const char** data, size_t* size);
PROXY_WASM_HOSTCALL(proxy_enqueue_shared_queue)
WasmResult proxy_enqueue_shared_queue(uint32_t token, const char* data, size_t size);

// Metrics.
PROXY_WASM_HOSTCALL(proxy_define_metric)
WasmResult proxy_define_metric(MetricType type, const char* name, size_t name_size,
                               uint32_t* metric_id);
PROXY_WASM_HOSTCALL(proxy_increment_metric)
WasmResult proxy_increment_metric(uint32_t metric_id, int64_t offset);
PROXY_WASM_HOSTCALL(proxy_record_metric)
WasmResult proxy_record_metric(uint32_t metric_id, uint64_t value);
PROXY_WASM_HOSTCALL(proxy_get_metric) WasmResult proxy_get_metric(uint32_t metric_id, uint64_t* value);

// Outbound calls.
PROXY_WASM_HOSTCALL(proxy_http_call)
WasmResult proxy_http_call(const char* uri, size_t uri_size, void* headers, size_t headers_size,
                           const char* body, size_t body_size, void* trailers,
                           size_t trailers_size, uint32_t timeout_milliseconds, uint32_t* token);
PROXY_WASM_HOSTCALL(proxy_grpc_call)
WasmResult proxy_grpc_call(const char* service, size_t service_size, const char* service_name,
                           size_t service_name_size, const char* method, size_t method_size,
                           void* metadata, size_t metadata_size, const char* request,
                           size_t request_size, uint32_t timeout_milliseconds, uint32_t* token);
PROXY_WASM_HOSTCALL(proxy_grpc_stream)
WasmResult proxy_grpc_stream(const char* service, size_t service_size, const char* service_name,
                             size_t service_name_size, const char* method, size_t method_size,
                             void* metadata, size_t metadata_size, uint32_t* token);
PROXY_WASM_HOSTCALL(proxy_grpc_cancel) WasmResult proxy_grpc_cancel(uint32_t token);
PROXY_WASM_HOSTCALL(proxy_grpc_close) WasmResult proxy_grpc_close(uint32_t token);
PROXY_WASM_HOSTCALL(proxy_grpc_send)
WasmResult proxy_grpc_send(uint32_t token, const char* message, size_t message_size,
                           uint32_t end_stream);

// Miscellaneous.
PROXY_WASM_HOSTCALL(proxy_get_status)
WasmResult proxy_get_status(uint32_t* code, const char** message, size_t* message_size);
PROXY_WASM_HOSTCALL(proxy_set_effective_context)
WasmResult proxy_set_effective_context(uint32_t context_id);
PROXY_WASM_HOSTCALL(proxy_done) WasmResult proxy_done();
PROXY_WASM_HOSTCALL(proxy_call_foreign_function)
WasmResult proxy_call_foreign_function(const char* name, size_t name_size, const char* arguments,
                                       size_t arguments_size, char** results,
                                       size_t* results_size);
