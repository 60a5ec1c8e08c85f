// jwt-hs256 (Go): verifies an HS256 bearer JWT on every request and forwards its subject,
// like filters/jwt-hs256; anything else gets a local 401.
//
// Configuration: {"secret": "...", "header": "authorization", "forward_sub_header": "x-jwt-sub",
// "clock_skew_seconds": 0, "max_token_bytes": 8192}. Only `secret` is required;
// `forward_sub_header: null` disables forwarding.
package main

import (
	"bytes"
	"encoding/base64"

	"filterbench/filters/go/sdk"
)

const filter = "jwt-hs256"

type config struct {
	secret []byte
	// Keyed once; each request copies it, which skips re-deriving the padded key blocks.
	mac              sdk.HMACSHA256
	header           string
	forwardSubHeader *string
	clockSkewSeconds float64
	maxTokenBytes    int
}

func decodeConfig(doc *sdk.Value) (*config, string) {
	c := &config{header: "authorization", maxTokenBytes: 8192}
	sub := "x-jwt-sub"
	c.forwardSubHeader = &sub
	var skew, max uint32 = 0, 8192
	err := sdk.DecodeStruct(doc, "struct RawConfig",
		[]string{"secret", "header", "forward_sub_header", "clock_skew_seconds", "max_token_bytes"},
		[]bool{true, false, false, false, false}, true,
		func(i int, v *sdk.Value) (err error) {
			var s string
			switch i {
			case 0:
				s, err = sdk.AsString(v)
				c.secret = []byte(s)
			case 1:
				c.header, err = sdk.AsString(v)
			case 2:
				if v.Kind == sdk.Null {
					c.forwardSubHeader = nil
				} else {
					s, err = sdk.AsString(v)
					c.forwardSubHeader = &s
				}
			case 3:
				skew, err = sdk.AsU32(v)
			case 4:
				max, err = sdk.AsU32(v)
			}
			return err
		})
	if err != nil {
		return nil, err.Error()
	}
	if len(c.secret) == 0 {
		return nil, "`secret` must not be empty"
	}
	if c.header == "" || (c.forwardSubHeader != nil && *c.forwardSubHeader == "") {
		return nil, "header names must not be empty"
	}
	c.mac = sdk.NewHMACSHA256(c.secret)
	c.clockSkewSeconds = float64(skew)
	c.maxTokenBytes = int(max)
	return c, ""
}

// Why a request is rejected: the text is the 401 body ("" = accepted).
type reject string

const (
	accepted       reject = ""
	missing        reject = "jwt: missing token"
	notBearer      reject = "jwt: not a bearer token"
	tooLarge       reject = "jwt: token too large"
	malformed      reject = "jwt: malformed token"
	unsupportedAlg reject = "jwt: unsupported alg"
	badSignature   reject = "jwt: bad signature"
	expired        reject = "jwt: token expired"
	notYetValid    reject = "jwt: token not yet valid"
	badSubject     reject = "jwt: bad sub claim"
	unconfigured   reject = "jwt: not configured"
)

// decodeSegment is base64url without padding, as strictly as the Rust filter's decoder: Go's
// decoder would skip CR and LF, which are not base64url.
func decodeSegment(segment []byte) ([]byte, bool) {
	if bytes.ContainsAny(segment, "\r\n") {
		return nil, false
	}
	out := make([]byte, base64.RawURLEncoding.DecodedLen(len(segment)))
	n, err := base64.RawURLEncoding.Strict().Decode(out, segment)
	return out[:n], err == nil
}

// decodeJSON decodes one base64url segment holding a JSON object (an array is not a valid
// JOSE header or claims set).
func decodeJSON(segment []byte) (sdk.Value, bool) {
	text, ok := decodeSegment(segment)
	if !ok {
		return sdk.Value{}, false
	}
	if t := sdk.TrimASCIIStart(text); len(t) == 0 || t[0] != '{' {
		return sdk.Value{}, false
	}
	v, err := sdk.Parse(text)
	return v, err == nil
}

type claims struct {
	sub      *string
	exp, nbf *float64
}

func decodeClaims(doc *sdk.Value) (claims, bool) {
	var c claims
	err := sdk.DecodeStruct(doc, "struct Claims", []string{"sub", "exp", "nbf"},
		[]bool{false, false, false}, false, func(i int, v *sdk.Value) error {
			if v.Kind == sdk.Null {
				return nil // an Option: null is None
			}
			if i == 0 {
				s, err := sdk.AsString(v)
				c.sub = &s
				return err
			}
			f, err := sdk.AsF64(v)
			if i == 1 {
				c.exp = &f
			} else {
				c.nbf = &f
			}
			return err
		})
	return c, err == nil
}

// verify checks headerValue against now (seconds since the epoch); on success it returns the
// subject claim, if any.
func verify(c *config, headerValue []byte, now float64) (*string, reject) {
	value := sdk.TrimASCII(headerValue)
	if len(value) < 7 || !sdk.EqualFoldASCII(string(value[:6]), "bearer") || value[6] != ' ' {
		return nil, notBearer
	}
	token := sdk.TrimASCIIStart(value[6:])
	if len(token) > c.maxTokenBytes {
		return nil, tooLarge
	}
	parts := bytes.Split(token, []byte("."))
	if len(parts) != 3 {
		return nil, malformed
	}

	// Check the algorithm before spending an HMAC on the token.
	header, ok := decodeJSON(parts[0])
	if !ok {
		return nil, malformed
	}
	alg := ""
	err := sdk.DecodeStruct(&header, "struct JoseHeader", []string{"alg"}, []bool{true}, false,
		func(_ int, v *sdk.Value) (err error) {
			alg, err = sdk.AsString(v)
			return err
		})
	if err != nil {
		return nil, malformed
	}
	if alg != "HS256" {
		return nil, unsupportedAlg
	}

	signature, ok := decodeSegment(parts[2])
	if !ok {
		return nil, malformed
	}
	mac := c.mac // a copy of the keyed state
	mac.Write(token[:len(parts[0])+1+len(parts[1])])
	// Constant-time comparison.
	if !mac.Verify(signature) {
		return nil, badSignature
	}

	payload, ok := decodeJSON(parts[1])
	if !ok {
		return nil, malformed
	}
	cl, ok := decodeClaims(&payload)
	if !ok {
		return nil, malformed
	}
	skew := c.clockSkewSeconds
	if cl.exp != nil && now >= *cl.exp+skew {
		return nil, expired
	}
	if cl.nbf != nil && now+skew < *cl.nbf {
		return nil, notYetValid
	}
	// The subject becomes a header value: refuse control characters (CR/LF injection).
	if cl.sub != nil {
		for i := 0; i < len(*cl.sub); i++ {
			if b := (*cl.sub)[i]; b < 0x20 || b == 0x7f {
				return nil, badSubject
			}
		}
	}
	return cl.sub, accepted
}

type root struct {
	sdk.DefaultRootContext
	config *config
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
	return &jwtAuth{config: r.config}
}

type jwtAuth struct {
	sdk.DefaultHttpContext
	// nil when configure failed: every request is rejected (fail closed).
	config *config
}

var wwwAuthenticate = []sdk.Header{{Name: "www-authenticate", Value: []byte(`Bearer error="invalid_token"`)}}

func (j *jwtAuth) OnRequestHeaders(int, bool) sdk.Action {
	c := j.config
	why := unconfigured
	var sub *string
	if c != nil {
		value, ok := sdk.GetHeaderMapValue(sdk.RequestHeaders, c.header)
		if !ok {
			why = missing
		} else {
			now := float64(sdk.CurrentTimeNanoseconds() / 1e9)
			sub, why = verify(c, value, now)
		}
	}
	if why != accepted {
		sdk.SendLocalResponse(401, []byte(why), wwwAuthenticate)
		return sdk.Pause
	}
	if c.forwardSubHeader != nil {
		// Replace rather than add, so a client cannot smuggle in its own subject.
		if sub != nil {
			sdk.ReplaceHeaderMapValue(sdk.RequestHeaders, *c.forwardSubHeader, *sub)
		} else {
			sdk.RemoveHeaderMapValue(sdk.RequestHeaders, *c.forwardSubHeader)
		}
	}
	return sdk.Continue
}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

func main() {}
