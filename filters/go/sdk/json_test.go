package sdk

import (
	"bytes"
	"strings"
	"testing"
)

func decodeNameValue(t *testing.T, text string) error {
	t.Helper()
	v, err := Parse([]byte(text))
	if err != nil {
		return err
	}
	return DecodeStruct(&v, "struct Config", []string{"name", "value"}, []bool{true, true}, true,
		func(_ int, v *Value) error { _, err := AsString(v); return err })
}

// The configuration errors the fixtures look for read as serde's.
func TestErrorsReadLikeSerde(t *testing.T) {
	cases := []struct{ text, want string }{
		{`{"name": "a"}`, "missing field `value`"},
		{`{"name": "a", "value": "b", "overwrite": true}`, "unknown field `overwrite`, expected `name` or `value`"},
		{`{"name": "a", "name": "b", "value": "c"}`, "duplicate field `name`"},
		{`{"name": "a", "value": 42}`, "invalid type: integer `42`, expected a string"},
		{`[1]`, "invalid type: sequence, expected struct Config"},
		{`not json`, "expected ident at line 1 column 2"},
		{`{"name": "a", "value": "b"} x`, "trailing characters"},
		{`{"name": "a\u0001"}`, ""},
		{"{\"name\": \"\x01\"}", "control character"},
		{`{"name": "a",}`, "trailing comma"},
	}
	for _, c := range cases {
		err := decodeNameValue(t, c.text)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), "missing field") {
				t.Errorf("%s: %v", c.text, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.text, err, c.want)
		}
	}
}

func TestNumbersAndStrings(t *testing.T) {
	num := func(text string) *Value {
		v, err := Parse([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		return &v
	}
	if n, err := AsU32(num("4294967295")); err != nil || n != 4294967295 {
		t.Errorf("u32 max: %d %v", n, err)
	}
	for text, want := range map[string]string{
		"-1":                   "invalid value: integer `-1`, expected u32",
		"4294967296":           "invalid value: integer `4294967296`, expected u32",
		"1.5":                  "invalid type: floating point `1.5`, expected u32",
		"1e3":                  "invalid type: floating point `1000.0`, expected u32",
		"18446744073709551616": "invalid type: floating point",
	} {
		if _, err := AsU32(num(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", text, err, want)
		}
	}
	if f, err := AsF64(num("1700000000.5")); err != nil || f != 1700000000.5 {
		t.Errorf("f64: %v %v", f, err)
	}
	for _, bad := range []string{"01", "1.", "-", ".5", "1e", "+1"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
	s, err := AsString(num(`"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"`))
	if err != nil || s != "a\"\\/\b\f\n\r\té😀" {
		t.Errorf("escapes: %q %v", s, err)
	}
	// A lone surrogate or invalid UTF-8 parses (it may be ignored) but is no string.
	for _, text := range []string{`"\ud800"`, "\"\xff\""} {
		if _, err := AsString(num(text)); err == nil {
			t.Errorf("%q decoded as a string", text)
		}
	}
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	if _, err := Parse([]byte(deep)); err == nil || !strings.Contains(err.Error(), "recursion limit") {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestPairsRoundTrip(t *testing.T) {
	headers := []Header{{":status", []byte("200")}, {"x-bin", []byte{0, 0xff}}, {"empty", nil}}
	got := DeserializePairs(SerializePairs(headers))
	if len(got) != len(headers) {
		t.Fatalf("got %d headers", len(got))
	}
	for i := range got {
		if got[i].Name != headers[i].Name || !bytes.Equal(got[i].Value, headers[i].Value) {
			t.Errorf("header %d: %q", i, got[i])
		}
	}
	data := SerializePairs(headers)
	for n := 0; n < len(data); n++ {
		if DeserializePairs(data[:n]) != nil && n < len(data)-1 {
			t.Errorf("truncated to %d bytes still parses", n)
		}
	}
}
