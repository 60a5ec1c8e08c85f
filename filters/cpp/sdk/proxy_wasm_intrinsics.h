// The header plugin code includes, as with the proxy-wasm C++ SDK: the whole API of our layer
// (proxy_wasm_api.h) and the macros SDK code uses to export its own functions.
#pragma once

#define PROXY_WASM_KEEPALIVE __attribute__((used, visibility("default")))
#if defined(__wasm__)
#define WASM_EXPORT(return_type, name, args) \
  extern "C" PROXY_WASM_KEEPALIVE __attribute__((export_name(#name))) return_type name args
#else
#define WASM_EXPORT(return_type, name, args) \
  extern "C" PROXY_WASM_KEEPALIVE return_type name args
#endif
// Markers some SDK plugins still carry; they expand to nothing.
#define START_WASM_PLUGIN(name)
#define END_WASM_PLUGIN

#include "proxy_wasm_api.h"
