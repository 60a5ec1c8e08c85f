package sdk

// What every filter shares, as filters/common does for the Rust ones: loading the JSON plugin
// configuration with the same log messages, and byte helpers with Rust's ASCII semantics.

// LoadConfig parses the plugin configuration as JSON. An absent or empty one logs
// "<filter>: missing configuration", a malformed one "<filter>: bad configuration: <why>";
// both give false.
func LoadConfig(filter string) (Value, bool) {
	bytes, ok := GetPluginConfiguration()
	// Hosts differ in whether "no configuration" is an absent or an empty buffer.
	if !ok || len(bytes) == 0 {
		LogWarn(filter + ": missing configuration")
		return Value{}, false
	}
	v, err := Parse(bytes)
	if err != nil {
		return Value{}, BadConfig(filter, err.Error())
	}
	return v, true
}

// BadConfig logs "<filter>: bad configuration: <why>" and returns false.
func BadConfig(filter, why string) bool {
	LogWarn(filter + ": bad configuration: " + why)
	return false
}

// IsASCIIWhitespace is Rust's u8::is_ascii_whitespace (no vertical tab).
func IsASCIIWhitespace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// TrimASCII drops leading and trailing ASCII whitespace.
func TrimASCII(b []byte) []byte { return TrimASCIIStart(TrimASCIIEnd(b)) }

// TrimASCIIStart drops leading ASCII whitespace.
func TrimASCIIStart(b []byte) []byte {
	for len(b) > 0 && IsASCIIWhitespace(b[0]) {
		b = b[1:]
	}
	return b
}

// TrimASCIIEnd drops trailing ASCII whitespace.
func TrimASCIIEnd(b []byte) []byte {
	for len(b) > 0 && IsASCIIWhitespace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// EqualFoldASCII compares ignoring ASCII case only.
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// ToLowerASCII lowercases ASCII letters in place.
func ToLowerASCII(b []byte) {
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
}

// LowerASCIIString returns s with ASCII letters lowercased.
func LowerASCIIString(s string) string {
	b := []byte(s)
	ToLowerASCII(b)
	return string(b)
}
