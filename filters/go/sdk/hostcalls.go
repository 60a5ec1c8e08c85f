package sdk

import (
	"encoding/binary"
	"unsafe"
)

// The typed host calls, over the raw* functions of host_wasm.go.

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// bytesPtr / stringPtr give nil for empty data, as the other SDKs pass it.
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

func stringPtr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

// returned turns what a host call returned in our memory into a slice; like the Rust SDK, a
// null address means "no value".
func returned(p, size uintptr, st Status) ([]byte, bool) {
	if st != StatusOk || p == 0 {
		return nil, false
	}
	return take(p, size)
}

// Log sends a message to the host's log.
func Log(level LogLevel, msg string) {
	rawLog(uint32(level), stringPtr(msg), len(msg))
}

// LogWarn logs at warn level.
func LogWarn(msg string) { Log(LevelWarn, msg) }

// CurrentTimeNanoseconds is the host clock, in nanoseconds since the epoch.
func CurrentTimeNanoseconds() uint64 { return rawCurrentTime() }

// GetBufferBytes returns bytes [start, start+max) of a host buffer; false if it has none.
func GetBufferBytes(bt BufferType, start, max uintptr) ([]byte, bool) {
	return returned(rawGetBuffer(uint32(bt), start, max))
}

// GetPluginConfiguration returns the whole plugin configuration; false if there is none.
func GetPluginConfiguration() ([]byte, bool) {
	return GetBufferBytes(BufferPluginConfiguration, 0, ^uintptr(0))
}

// GetHeaderMapValue returns one header's value (the host lowercases names); false if absent.
func GetHeaderMapValue(mt MapType, key string) ([]byte, bool) {
	return returned(rawGetHeaderValue(uint32(mt), stringPtr(key), len(key)))
}

// AddHeaderMapValue appends a header (an existing one with that name is kept).
func AddHeaderMapValue(mt MapType, key, value string) Status {
	return rawAddHeaderValue(uint32(mt), stringPtr(key), len(key), stringPtr(value), len(value))
}

// ReplaceHeaderMapValue sets a header, replacing every value of that name.
func ReplaceHeaderMapValue(mt MapType, key, value string) Status {
	return rawReplaceHeaderValue(uint32(mt), stringPtr(key), len(key), stringPtr(value), len(value))
}

// RemoveHeaderMapValue removes every value of a header.
func RemoveHeaderMapValue(mt MapType, key string) Status {
	return rawRemoveHeaderValue(uint32(mt), stringPtr(key), len(key))
}

// Header is one header map entry; values are bytes (they need not be UTF-8).
type Header struct {
	Name  string
	Value []byte
}

// GetHeaderMapPairs returns a whole header map, in order.
func GetHeaderMapPairs(mt MapType) []Header {
	data, ok := returned(rawGetPairs(uint32(mt)))
	if !ok {
		return nil
	}
	return DeserializePairs(data)
}

// SetHeaderMapPairs replaces a whole header map.
func SetHeaderMapPairs(mt MapType, headers []Header) Status {
	data := SerializePairs(headers)
	return rawSetPairs(uint32(mt), bytesPtr(data), len(data))
}

// SendLocalResponse answers the request from the filter (no gRPC status).
func SendLocalResponse(status uint32, body []byte, headers []Header) Status {
	h := SerializePairs(headers)
	return rawSendLocalResponse(status, nil, 0, bytesPtr(body), len(body), bytesPtr(h), len(h), -1)
}

// SerializePairs encodes a header map in the ABI's form: a u32 count, a (u32 name length, u32
// value length) pair per header, then each name and value followed by a NUL (little-endian).
func SerializePairs(headers []Header) []byte {
	size := 4
	for _, h := range headers {
		size += 8 + len(h.Name) + len(h.Value) + 2
	}
	out := make([]byte, 4+8*len(headers), size)
	binary.LittleEndian.PutUint32(out, uint32(len(headers)))
	for i, h := range headers {
		binary.LittleEndian.PutUint32(out[4+8*i:], uint32(len(h.Name)))
		binary.LittleEndian.PutUint32(out[8+8*i:], uint32(len(h.Value)))
	}
	for _, h := range headers {
		out = append(out, h.Name...)
		out = append(out, 0)
		out = append(out, h.Value...)
		out = append(out, 0)
	}
	return out
}

// DeserializePairs decodes SerializePairs' form; nil if it is malformed.
func DeserializePairs(data []byte) []Header {
	if len(data) < 4 {
		return nil
	}
	n := uint64(binary.LittleEndian.Uint32(data))
	if n > uint64(len(data)-4)/8 {
		return nil
	}
	out := make([]Header, 0, n)
	pos := 4 + 8*int(n)
	for i := 0; i < int(n); i++ {
		nl := int(binary.LittleEndian.Uint32(data[4+8*i:]))
		vl := int(binary.LittleEndian.Uint32(data[8+8*i:]))
		if nl > len(data)-pos-1 || vl > len(data)-pos-nl-2 {
			return nil
		}
		name := string(data[pos : pos+nl])
		pos += nl + 1
		// The values keep pointing into the host's buffer: it is ours now, and not reused.
		value := data[pos : pos+vl : pos+vl]
		pos += vl + 1
		out = append(out, Header{Name: name, Value: value})
	}
	return out
}
