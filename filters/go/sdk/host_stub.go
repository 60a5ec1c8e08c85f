//go:build !wasm

package sdk

import "unsafe"

// Natively there is no host to call (Go filters are wasm only): this build exists so `go test`
// can test the pure-Go parts (JSON, crypto, header maps) on the machine itself.

func unavailable() { panic("sdk: no proxy-wasm host in a native build") }

func rawLog(uint32, unsafe.Pointer, int) Status { unavailable(); return 0 }
func rawCurrentTime() uint64                    { unavailable(); return 0 }
func rawGetBuffer(uint32, uintptr, uintptr) (uintptr, uintptr, Status) {
	unavailable()
	return 0, 0, 0
}
func rawGetHeaderValue(uint32, unsafe.Pointer, int) (uintptr, uintptr, Status) {
	unavailable()
	return 0, 0, 0
}
func rawAddHeaderValue(uint32, unsafe.Pointer, int, unsafe.Pointer, int) Status {
	unavailable()
	return 0
}
func rawReplaceHeaderValue(uint32, unsafe.Pointer, int, unsafe.Pointer, int) Status {
	unavailable()
	return 0
}
func rawRemoveHeaderValue(uint32, unsafe.Pointer, int) Status { unavailable(); return 0 }
func rawGetPairs(uint32) (uintptr, uintptr, Status)           { unavailable(); return 0, 0, 0 }
func rawSetPairs(uint32, unsafe.Pointer, int) Status          { unavailable(); return 0 }
func rawSendLocalResponse(uint32, unsafe.Pointer, int, unsafe.Pointer, int, unsafe.Pointer, int, int32) Status {
	unavailable()
	return 0
}
