//go:build wasm

package sdk

import "unsafe"

// The wasm build: host functions imported from module "env" (pointers and sizes are i32) and
// the proxy_on_* callbacks exported. Built with GOOS=wasip1 -buildmode=c-shared, the module is
// a reactor: the host runs _initialize (the Go runtime and package init) before any callback.

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_current_time_nanoseconds
func proxyGetCurrentTimeNanoseconds(ret *uint64) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bt, start, max uint32, retData, retSize *uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32, retData, retSize *uint32) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mt uint32, retData, retSize *uint32) uint32

//go:wasmimport env proxy_set_header_map_pairs
func proxySetHeaderMapPairs(mt uint32, data unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details unsafe.Pointer, detailsSize uint32, body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpcStatus int32) uint32

func rawLog(level uint32, p unsafe.Pointer, n int) Status {
	return Status(proxyLog(level, p, uint32(n)))
}

func rawCurrentTime() uint64 {
	var t uint64
	proxyGetCurrentTimeNanoseconds(&t)
	return t
}

// max is truncated to 32 bits: usize::MAX of wasm32, as the other SDKs send it.
func rawGetBuffer(bt uint32, start, max uintptr) (uintptr, uintptr, Status) {
	var p, n uint32
	st := proxyGetBufferBytes(bt, uint32(start), uint32(max), &p, &n)
	return uintptr(p), uintptr(n), Status(st)
}

func rawGetHeaderValue(mt uint32, k unsafe.Pointer, kn int) (uintptr, uintptr, Status) {
	var p, n uint32
	st := proxyGetHeaderMapValue(mt, k, uint32(kn), &p, &n)
	return uintptr(p), uintptr(n), Status(st)
}

func rawAddHeaderValue(mt uint32, k unsafe.Pointer, kn int, v unsafe.Pointer, vn int) Status {
	return Status(proxyAddHeaderMapValue(mt, k, uint32(kn), v, uint32(vn)))
}

func rawReplaceHeaderValue(mt uint32, k unsafe.Pointer, kn int, v unsafe.Pointer, vn int) Status {
	return Status(proxyReplaceHeaderMapValue(mt, k, uint32(kn), v, uint32(vn)))
}

func rawRemoveHeaderValue(mt uint32, k unsafe.Pointer, kn int) Status {
	return Status(proxyRemoveHeaderMapValue(mt, k, uint32(kn)))
}

func rawGetPairs(mt uint32) (uintptr, uintptr, Status) {
	var p, n uint32
	st := proxyGetHeaderMapPairs(mt, &p, &n)
	return uintptr(p), uintptr(n), Status(st)
}

func rawSetPairs(mt uint32, p unsafe.Pointer, n int) Status {
	return Status(proxySetHeaderMapPairs(mt, p, uint32(n)))
}

func rawSendLocalResponse(status uint32, d unsafe.Pointer, dn int, b unsafe.Pointer, bn int, h unsafe.Pointer, hn int, grpc int32) Status {
	return Status(proxySendLocalResponse(status, d, uint32(dn), b, uint32(bn), h, uint32(hn), grpc))
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

//go:wasmexport proxy_abi_version_0_2_1
func proxyAbiVersion() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(allocate(uintptr(size))))
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, rootID uint32) {
	resetPending()
	onContextCreate(id, rootID)
}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(id, size uint32) uint32 {
	resetPending()
	return b2u(onVMStart(id, int(size)))
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(id, size uint32) uint32 {
	resetPending()
	return b2u(onConfigure(id, int(size)))
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id, n, eos uint32) uint32 {
	resetPending()
	if c := streamOf(id); c != nil {
		return uint32(c.OnRequestHeaders(int(n), eos != 0))
	}
	return 0
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(id, n, eos uint32) uint32 {
	resetPending()
	if c := streamOf(id); c != nil {
		return uint32(c.OnRequestBody(int(n), eos != 0))
	}
	return 0
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(id, n uint32) uint32 {
	resetPending()
	if c := streamOf(id); c != nil {
		return uint32(c.OnRequestTrailers(int(n)))
	}
	return 0
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id, n, eos uint32) uint32 {
	resetPending()
	if c := streamOf(id); c != nil {
		return uint32(c.OnResponseHeaders(int(n), eos != 0))
	}
	return 0
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(id, n, eos uint32) uint32 {
	resetPending()
	if c := streamOf(id); c != nil {
		return uint32(c.OnResponseBody(int(n), eos != 0))
	}
	return 0
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(id, n uint32) uint32 {
	resetPending()
	if c := streamOf(id); c != nil {
		return uint32(c.OnResponseTrailers(int(n)))
	}
	return 0
}

//go:wasmexport proxy_on_log
func proxyOnLog(id uint32) {
	resetPending()
	onLog(id)
}

//go:wasmexport proxy_on_done
func proxyOnDone(id uint32) uint32 {
	resetPending()
	return b2u(onDone(id))
}

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) {
	resetPending()
	onDelete(id)
}
