package sdk

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// A small strict JSON parser (RFC 8259, as serde_json accepts it) into a tree, with decoders
// that report errors in serde's words ("missing field `x`", "unknown field `x`, expected ...",
// "invalid type: ..., expected ...", "... at line L column C"), so configuration errors read
// like the Rust filters'. encoding/json is not used: it matches keys case-insensitively,
// accepts duplicate keys and costs reflection in every module.

// Kind of a JSON value.
type Kind uint8

const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Value is a parsed JSON value.
type Value struct {
	Kind Kind
	Bool bool
	// Number: its source text; String: the decoded bytes.
	Text string
	// Number: no fraction or exponent.
	Integer bool
	// String: valid UTF-8 without a lone surrogate escape (serde_json refuses anything else
	// where a string is decoded, and lets it pass where the value is ignored).
	Valid   bool
	Items   []Value
	Members []Member
	// Where the value ends, for error positions (1-based line, column of its last byte).
	Line, Col int
}

// Member is one key of an object, in document order.
type Member struct {
	Key      string
	KeyLine  int
	KeyCol   int
	Value    Value
	KeyValid bool
}

// Error is a decoding error with serde_json's message.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorAt(msg string, line, col int) error {
	return &Error{msg + " at line " + strconv.Itoa(line) + " column " + strconv.Itoa(col)}
}

// serde_json's nesting bound.
const maxDepth = 128

type parser struct {
	data      []byte
	pos       int
	line, col int
	depth     int
}

func (p *parser) peek() (byte, bool) {
	if p.pos < len(p.data) {
		return p.data[p.pos], true
	}
	return 0, false
}

func (p *parser) bump() byte {
	c := p.data[p.pos]
	p.pos++
	if c == '\n' {
		p.line++
		p.col = 0
	} else {
		p.col++
	}
	return c
}

func (p *parser) fail(msg string) error { return errorAt(msg, p.line, p.col) }

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.bump()
		default:
			return
		}
	}
}

// Parse parses a whole document (trailing whitespace only).
func Parse(data []byte) (Value, error) {
	p := &parser{data: data, line: 1}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos < len(p.data) {
		p.bump()
		return Value{}, p.fail("trailing characters")
	}
	return v, nil
}

func (p *parser) value() (Value, error) {
	c, ok := p.peek()
	if !ok {
		return Value{}, p.fail("EOF while parsing a value")
	}
	var v Value
	var err error
	switch {
	case c == 'n':
		err = p.literal("null")
	case c == 't':
		v.Kind, v.Bool = Bool, true
		err = p.literal("true")
	case c == 'f':
		v.Kind = Bool
		err = p.literal("false")
	case c == '-' || (c >= '0' && c <= '9'):
		v.Kind = Number
		v.Text, v.Integer, err = p.number()
	case c == '"':
		v.Kind = String
		v.Text, v.Valid, err = p.str()
	case c == '[' || c == '{':
		p.depth++
		if p.depth > maxDepth {
			return v, p.fail("recursion limit exceeded")
		}
		if c == '[' {
			v.Kind = Array
			v.Items, err = p.array()
		} else {
			v.Kind = Object
			v.Members, err = p.object()
		}
		p.depth--
	default:
		p.bump()
		return v, p.fail("expected value")
	}
	v.Line, v.Col = p.line, p.col
	return v, err
}

func (p *parser) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, ok := p.peek()
		if !ok {
			return p.fail("EOF while parsing a value")
		}
		p.bump()
		if c != word[i] {
			return p.fail("expected ident")
		}
	}
	return nil
}

func (p *parser) digits() int {
	n := 0
	for c, ok := p.peek(); ok && c >= '0' && c <= '9'; c, ok = p.peek() {
		p.bump()
		n++
	}
	return n
}

func (p *parser) number() (string, bool, error) {
	start := p.pos
	if c, _ := p.peek(); c == '-' {
		p.bump()
	}
	c, ok := p.peek()
	switch {
	case !ok:
		return "", false, p.fail("EOF while parsing a value")
	case c == '0':
		p.bump()
		if c, ok := p.peek(); ok && c >= '0' && c <= '9' {
			p.bump()
			return "", false, p.fail("invalid number")
		}
	case c >= '1' && c <= '9':
		p.digits()
	default:
		p.bump()
		return "", false, p.fail("invalid number")
	}
	integer := true
	if c, ok := p.peek(); ok && c == '.' {
		p.bump()
		integer = false
		if p.digits() == 0 {
			return "", false, p.fail("invalid number")
		}
	}
	if c, ok := p.peek(); ok && (c == 'e' || c == 'E') {
		p.bump()
		integer = false
		if c, ok := p.peek(); ok && (c == '+' || c == '-') {
			p.bump()
		}
		if p.digits() == 0 {
			return "", false, p.fail("invalid number")
		}
	}
	return string(p.data[start:p.pos]), integer, nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (p *parser) hex4() (rune, error) {
	var r rune
	for i := 0; i < 4; i++ {
		c, ok := p.peek()
		if !ok {
			return 0, p.fail("EOF while parsing a string")
		}
		p.bump()
		h := hexVal(c)
		if h < 0 {
			return 0, p.fail("invalid escape")
		}
		r = r<<4 | rune(h)
	}
	return r, nil
}

// str parses a string; valid is false for invalid UTF-8 or a lone surrogate escape.
func (p *parser) str() (string, bool, error) {
	p.bump() // the opening quote
	var out []byte
	valid := true
	for {
		c, ok := p.peek()
		if !ok {
			return "", false, p.fail("EOF while parsing a string")
		}
		p.bump()
		switch {
		case c == '"':
			if valid && !utf8.Valid(out) {
				valid = false
			}
			return string(out), valid, nil
		case c < 0x20:
			return "", false, p.fail("control character (\\u0000-\\u001F) found while parsing a string")
		case c != '\\':
			out = append(out, c)
			continue
		}
		e, ok := p.peek()
		if !ok {
			return "", false, p.fail("EOF while parsing a string")
		}
		p.bump()
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", false, err
			}
			if r >= 0xD800 && r < 0xDC00 && p.pos+1 < len(p.data) &&
				p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
				save, line, col := p.pos, p.line, p.col
				p.bump()
				p.bump()
				lo, err := p.hex4()
				if err != nil {
					return "", false, err
				}
				if lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				} else {
					// Not a pair: the second escape is read on its own.
					p.pos, p.line, p.col = save, line, col
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				valid = false
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false, p.fail("invalid escape")
		}
	}
}

func (p *parser) array() ([]Value, error) {
	p.bump()
	var items []Value
	p.skipSpace()
	if c, ok := p.peek(); ok && c == ']' {
		p.bump()
		return items, nil
	}
	for {
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.skipSpace()
		c, ok := p.peek()
		if !ok {
			return nil, p.fail("EOF while parsing a list")
		}
		p.bump()
		if c == ']' {
			return items, nil
		}
		if c != ',' {
			return nil, p.fail("expected `,` or `]`")
		}
		p.skipSpace()
		if c, ok := p.peek(); ok && c == ']' {
			p.bump()
			return nil, p.fail("trailing comma")
		}
	}
}

func (p *parser) object() ([]Member, error) {
	p.bump()
	var members []Member
	p.skipSpace()
	if c, ok := p.peek(); ok && c == '}' {
		p.bump()
		return members, nil
	}
	for {
		p.skipSpace()
		c, ok := p.peek()
		if !ok {
			return nil, p.fail("EOF while parsing an object")
		}
		if c != '"' {
			p.bump()
			return nil, p.fail("key must be a string")
		}
		var m Member
		var err error
		m.Key, m.KeyValid, err = p.str()
		if err != nil {
			return nil, err
		}
		m.KeyLine, m.KeyCol = p.line, p.col
		p.skipSpace()
		if c, ok := p.peek(); !ok {
			return nil, p.fail("EOF while parsing an object")
		} else if c != ':' {
			p.bump()
			return nil, p.fail("expected `:`")
		}
		p.bump()
		p.skipSpace()
		if m.Value, err = p.value(); err != nil {
			return nil, err
		}
		members = append(members, m)
		p.skipSpace()
		c, ok = p.peek()
		if !ok {
			return nil, p.fail("EOF while parsing an object")
		}
		p.bump()
		if c == '}' {
			return members, nil
		}
		if c != ',' {
			return nil, p.fail("expected `,` or `}`")
		}
		p.skipSpace()
		if c, ok := p.peek(); ok && c == '}' {
			p.bump()
			return nil, p.fail("trailing comma")
		}
	}
}

// ---- decoding with serde's messages ----------------------------------------------------------

// unexpected is serde's description of v in an "invalid type" error.
func (v *Value) unexpected() string {
	switch v.Kind {
	case Null:
		return "null"
	case Bool:
		return "boolean `" + strconv.FormatBool(v.Bool) + "`"
	case Number:
		if v.fitsInteger() {
			return "integer `" + v.Text + "`"
		}
		f, _ := strconv.ParseFloat(v.Text, 64)
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if math.Trunc(f) == f && !math.IsInf(f, 0) {
			s += ".0"
		}
		return "floating point `" + s + "`"
	case String:
		return "string " + strconv.Quote(v.Text)
	case Array:
		return "sequence"
	}
	return "map"
}

// fitsInteger: an integer serde_json reads as i64 or u64 (beyond those it reads a float).
func (v *Value) fitsInteger() bool {
	if !v.Integer {
		return false
	}
	if _, err := strconv.ParseInt(v.Text, 10, 64); err == nil {
		return true
	}
	_, err := strconv.ParseUint(v.Text, 10, 64)
	return err == nil
}

// InvalidType is serde's `invalid type: <v>, expected <what>` at v's position.
func InvalidType(v *Value, expected string) error {
	return errorAt("invalid type: "+v.unexpected()+", expected "+expected, v.Line, v.Col)
}

// AsString decodes a string (serde refuses invalid UTF-8 here).
func AsString(v *Value) (string, error) {
	if v.Kind != String {
		return "", InvalidType(v, "a string")
	}
	if !v.Valid {
		return "", errorAt("invalid unicode code point", v.Line, v.Col)
	}
	return v.Text, nil
}

// AsF64 decodes any number (integers too, as serde_json does).
func AsF64(v *Value) (float64, error) {
	if v.Kind != Number {
		return 0, InvalidType(v, "f64")
	}
	f, err := strconv.ParseFloat(v.Text, 64)
	if err != nil {
		return 0, errorAt("number out of range", v.Line, v.Col)
	}
	return f, nil
}

// AsU32 decodes a non-negative integer that fits 32 bits.
func AsU32(v *Value) (uint32, error) {
	if v.Kind != Number || !v.Integer {
		return 0, InvalidType(v, "u32")
	}
	n, err := strconv.ParseUint(v.Text, 10, 32)
	if err != nil {
		if !v.fitsInteger() {
			return 0, InvalidType(v, "u32")
		}
		return 0, errorAt("invalid value: integer `"+v.Text+"`, expected u32", v.Line, v.Col)
	}
	return uint32(n), nil
}

// AsStringList decodes an array of strings.
func AsStringList(v *Value) ([]string, error) {
	if v.Kind != Array {
		return nil, InvalidType(v, "a sequence")
	}
	out := make([]string, 0, len(v.Items))
	for i := range v.Items {
		s, err := AsString(&v.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func unknownField(key string, fields []string) string {
	msg := "unknown field `" + key + "`, "
	switch len(fields) {
	case 0:
		return msg + "there are no fields"
	case 1:
		return msg + "expected `" + fields[0] + "`"
	case 2:
		return msg + "expected `" + fields[0] + "` or `" + fields[1] + "`"
	}
	msg += "expected one of "
	for i, f := range fields {
		if i > 0 {
			msg += ", "
		}
		msg += "`" + f + "`"
	}
	return msg
}

// DecodeStruct walks an object as serde's derive does for a struct with named fields:
// field(i, value) runs for each known field in document order; an unknown key is an error
// when denyUnknown (else skipped), a repeated known key is a "duplicate field" error, and a
// required field that is absent a "missing field" error. expecting names the struct for type
// errors ("struct Config").
func DecodeStruct(v *Value, expecting string, fields []string, required []bool, denyUnknown bool,
	field func(i int, v *Value) error) error {
	if v.Kind != Object {
		return InvalidType(v, expecting)
	}
	var seen [16]bool
	for mi := range v.Members {
		m := &v.Members[mi]
		i := -1
		for fi, f := range fields {
			if m.KeyValid && m.Key == f {
				i = fi
				break
			}
		}
		if i < 0 {
			if denyUnknown {
				return errorAt(unknownField(m.Key, fields), m.KeyLine, m.KeyCol)
			}
			continue
		}
		if seen[i] {
			return errorAt("duplicate field `"+fields[i]+"`", m.KeyLine, m.KeyCol)
		}
		seen[i] = true
		if err := field(i, &m.Value); err != nil {
			return err
		}
	}
	for i, req := range required {
		if req && !seen[i] {
			return errorAt("missing field `"+fields[i]+"`", v.Line, v.Col)
		}
	}
	return nil
}
