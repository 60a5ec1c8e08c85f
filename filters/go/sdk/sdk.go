// Package sdk is filterbench's own small Go layer over the proxy-wasm ABI 0.2.1: typed host
// calls, root and HTTP contexts kept per context id, and the dispatch behind the exported
// proxy_on_* callbacks. host_wasm.go imports the host functions from module "env" with
// //go:wasmimport and exports the callbacks with //go:wasmexport (GOOS=wasip1, c-shared).
//
// A filter registers its root context factory once, from an init function:
//
//	func init() { sdk.SetNewRootContext(func(id uint32) sdk.RootContext { return &root{} }) }
package sdk

// Status is a host call's result.
type Status uint32

const (
	StatusOk       Status = 0
	StatusNotFound Status = 1
)

// LogLevel of proxy_log.
type LogLevel uint32

const (
	LevelTrace LogLevel = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
	LevelCritical
)

// MapType selects a header map.
type MapType uint32

const (
	RequestHeaders   MapType = 0
	RequestTrailers  MapType = 1
	ResponseHeaders  MapType = 2
	ResponseTrailers MapType = 3
)

// BufferType selects a buffer for proxy_get_buffer_bytes.
type BufferType uint32

const (
	BufferHttpRequestBody     BufferType = 0
	BufferHttpResponseBody    BufferType = 1
	BufferPluginConfiguration BufferType = 7
)

// Action is what a stream callback returns: go on, or stop iterating (pause).
type Action uint32

const (
	Continue Action = 0
	Pause    Action = 1
)

// RootContext is the plugin: it is configured and makes the contexts of the streams.
type RootContext interface {
	OnVMStart(vmConfigurationSize int) bool
	OnConfigure(pluginConfigurationSize int) bool
	NewHttpContext(contextID uint32) HttpContext
}

// HttpContext is one HTTP request/response.
type HttpContext interface {
	OnRequestHeaders(numHeaders int, endOfStream bool) Action
	OnRequestBody(bodySize int, endOfStream bool) Action
	OnRequestTrailers(numTrailers int) Action
	OnResponseHeaders(numHeaders int, endOfStream bool) Action
	OnResponseBody(bodySize int, endOfStream bool) Action
	OnResponseTrailers(numTrailers int) Action
	OnLog()
	OnDone() bool
	OnDelete()
}

// DefaultRootContext implements RootContext's optional callbacks; embed it.
type DefaultRootContext struct{}

func (DefaultRootContext) OnVMStart(int) bool                { return true }
func (DefaultRootContext) OnConfigure(int) bool              { return true }
func (DefaultRootContext) NewHttpContext(uint32) HttpContext { return nil }

// DefaultHttpContext implements every HttpContext callback as a pass-through; embed it.
type DefaultHttpContext struct{}

func (DefaultHttpContext) OnRequestHeaders(int, bool) Action  { return Continue }
func (DefaultHttpContext) OnRequestBody(int, bool) Action     { return Continue }
func (DefaultHttpContext) OnRequestTrailers(int) Action       { return Continue }
func (DefaultHttpContext) OnResponseHeaders(int, bool) Action { return Continue }
func (DefaultHttpContext) OnResponseBody(int, bool) Action    { return Continue }
func (DefaultHttpContext) OnResponseTrailers(int) Action      { return Continue }
func (DefaultHttpContext) OnLog()                             {}
func (DefaultHttpContext) OnDone() bool                       { return true }
func (DefaultHttpContext) OnDelete()                          {}

var (
	newRoot func(contextID uint32) RootContext
	roots   = map[uint32]RootContext{}
	streams = map[uint32]HttpContext{}
)

// SetNewRootContext registers the filter's root context factory (once, from init).
func SetNewRootContext(f func(contextID uint32) RootContext) { newRoot = f }

// ---- dispatch (called by the exports of host_wasm.go) ----------------------------------------

func onContextCreate(id, rootID uint32) {
	if rootID == 0 {
		if newRoot != nil {
			roots[id] = newRoot(id)
		}
		return
	}
	if root, ok := roots[rootID]; ok {
		if c := root.NewHttpContext(id); c != nil {
			streams[id] = c
		}
	}
}

func onVMStart(id uint32, size int) bool {
	if root, ok := roots[id]; ok {
		return root.OnVMStart(size)
	}
	return true
}

func onConfigure(id uint32, size int) bool {
	if root, ok := roots[id]; ok {
		return root.OnConfigure(size)
	}
	return false
}

func onDone(id uint32) bool {
	if c, ok := streams[id]; ok {
		return c.OnDone()
	}
	return true
}

func onLog(id uint32) {
	if c, ok := streams[id]; ok {
		c.OnLog()
	}
}

func onDelete(id uint32) {
	if c, ok := streams[id]; ok {
		c.OnDelete()
		delete(streams, id)
		return
	}
	delete(roots, id)
}

// streamOf is context id's HttpContext, nil if unknown (its callbacks then continue).
func streamOf(id uint32) HttpContext { return streams[id] }

// ---- memory the host fills ------------------------------------------------------------------

// Buffers handed to the host by proxy_on_memory_allocate, by address, until the host call that
// asked for them takes them back: the map keeps them reachable (Go's heap does not move).
var pending = map[uintptr][]byte{}

func allocate(size uintptr) []byte {
	// Never a zero-length buffer: the host needs a distinct non-null address even for 0 bytes.
	buf := make([]byte, size+1)[:size]
	pending[addr(buf)] = buf
	return buf
}

// take returns the buffer at address p (filled by the host) with its length; false if p is
// not one of ours.
func take(p, size uintptr) ([]byte, bool) {
	buf, ok := pending[p]
	if !ok || uintptr(len(buf)) < size {
		return nil, false
	}
	delete(pending, p)
	return buf[:size], true
}

// resetPending drops buffers of host calls that failed after allocating; called on each entry.
func resetPending() {
	if len(pending) != 0 {
		clear(pending)
	}
}
