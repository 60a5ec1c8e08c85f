// header-rewrite (Go): normalises request headers with one map read and one map write, like
// filters/header-rewrite: trims values, lowercases selected values, drops deny-listed headers,
// adds a request id when missing and rewrites a `:path` prefix. Values are bytes throughout.
//
// Configuration (every field optional):
// {"lowercase_values": ["x-mode"], "deny": ["x-internal-secret"],
// "request_id_header": "x-request-id", "path_prefix": {"from": "/api/v1/", "to": "/v2/"}}
package main

import (
	"bytes"
	"strconv"

	"filterbench/filters/go/sdk"
)

const filter = "header-rewrite"

type pathPrefix struct {
	from, to []byte
}

type config struct {
	// Lowercase names: the per-request comparisons only fold the header side.
	lowercaseValues []string
	deny            []string
	requestIDHeader string // "" = none
	pathPrefix      *pathPrefix
}

func decodeConfig(doc *sdk.Value) (*config, string) {
	c := &config{}
	hasRequestID := false
	err := sdk.DecodeStruct(doc, "struct Config",
		[]string{"lowercase_values", "deny", "request_id_header", "path_prefix"},
		[]bool{false, false, false, false}, true,
		func(i int, v *sdk.Value) (err error) {
			switch i {
			case 0:
				c.lowercaseValues, err = sdk.AsStringList(v)
			case 1:
				c.deny, err = sdk.AsStringList(v)
			case 2:
				if v.Kind != sdk.Null {
					c.requestIDHeader, err = sdk.AsString(v)
					hasRequestID = true
				}
			case 3:
				if v.Kind != sdk.Null {
					var from, to string
					err = sdk.DecodeStruct(v, "struct PathPrefix", []string{"from", "to"},
						[]bool{true, true}, true, func(i int, v *sdk.Value) (err error) {
							if i == 0 {
								from, err = sdk.AsString(v)
							} else {
								to, err = sdk.AsString(v)
							}
							return err
						})
					c.pathPrefix = &pathPrefix{from: []byte(from), to: []byte(to)}
				}
			}
			return err
		})
	if err != nil {
		return nil, err.Error()
	}
	for _, list := range [][]string{c.lowercaseValues, c.deny} {
		for i := range list {
			list[i] = sdk.LowerASCIIString(list[i])
		}
	}
	if hasRequestID {
		if c.requestIDHeader == "" {
			return nil, "`request_id_header` must not be empty"
		}
		c.requestIDHeader = sdk.LowerASCIIString(c.requestIDHeader)
	}
	if c.pathPrefix != nil && len(c.pathPrefix.from) == 0 {
		return nil, "`path_prefix.from` must not be empty"
	}
	return c, ""
}

type root struct {
	sdk.DefaultRootContext
	config *config
	// Ids issued by this VM, so generated ids are unique without randomness.
	requestIDs uint64
}

func (r *root) OnConfigure(int) bool {
	doc, ok := sdk.LoadConfig(filter)
	if !ok {
		return false
	}
	c, why := decodeConfig(&doc)
	if c == nil {
		return sdk.BadConfig(filter, why)
	}
	// A failed configure keeps the previous configuration, if any.
	r.config = c
	return true
}

func (r *root) NewHttpContext(uint32) sdk.HttpContext {
	return &headerRewrite{root: r, config: r.config}
}

// listed: list holds lowercase names; name comes from the host in any case.
func listed(list []string, name string) bool {
	for _, entry := range list {
		if sdk.EqualFoldASCII(entry, name) {
			return true
		}
	}
	return false
}

type headerRewrite struct {
	sdk.DefaultHttpContext
	root   *root
	config *config
}

// nextRequestID is `fb-<clock ns as 16 hex digits>-<per-VM sequence number>`: unique per VM
// and reproducible for a given host clock.
func (h *headerRewrite) nextRequestID() []byte {
	h.root.requestIDs++
	id := []byte("fb-")
	hex := strconv.FormatUint(sdk.CurrentTimeNanoseconds(), 16)
	for i := len(hex); i < 16; i++ {
		id = append(id, '0')
	}
	id = append(id, hex...)
	id = append(id, '-')
	return strconv.AppendUint(id, h.root.requestIDs, 10)
}

func (h *headerRewrite) OnRequestHeaders(int, bool) sdk.Action {
	c := h.config
	if c == nil {
		return sdk.Continue
	}
	all := sdk.GetHeaderMapPairs(sdk.RequestHeaders)
	headers := all[:0]
	hasRequestID := false
	for _, hdr := range all {
		if listed(c.deny, hdr.Name) {
			continue
		}
		value := sdk.TrimASCII(hdr.Value)
		if listed(c.lowercaseValues, hdr.Name) {
			// The value is our copy of the host's bytes: lowercasing in place is safe.
			sdk.ToLowerASCII(value)
		}
		if hdr.Name == ":path" && c.pathPrefix != nil && bytes.HasPrefix(value, c.pathPrefix.from) {
			rest := value[len(c.pathPrefix.from):]
			value = append(append(make([]byte, 0, len(c.pathPrefix.to)+len(rest)), c.pathPrefix.to...), rest...)
		}
		// An empty id is as good as none: it is replaced below.
		if c.requestIDHeader != "" && len(value) != 0 && sdk.EqualFoldASCII(c.requestIDHeader, hdr.Name) {
			hasRequestID = true
		}
		headers = append(headers, sdk.Header{Name: hdr.Name, Value: value})
	}
	if c.requestIDHeader != "" && !hasRequestID {
		kept := headers[:0]
		for _, hdr := range headers {
			if !sdk.EqualFoldASCII(c.requestIDHeader, hdr.Name) {
				kept = append(kept, hdr)
			}
		}
		headers = append(kept, sdk.Header{Name: c.requestIDHeader, Value: h.nextRequestID()})
	}
	sdk.SetHeaderMapPairs(sdk.RequestHeaders, headers)
	return sdk.Continue
}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

func main() {}
