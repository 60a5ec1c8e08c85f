// A small strict JSON parser (as serde_json accepts it) for the AssemblyScript filters' plugin
// configurations, with serde_json-style error messages and positions ("... at line L column C").
// Strings are kept as UTF-8 bytes; `valid` is false for invalid UTF-8 or a lone surrogate.

export enum JsonKind { Null, Bool, Number, String, Array, Object }

const MAX_DEPTH: i32 = 128; // serde_json's recursion limit

export function jsonAt(message: string, line: i32, column: i32): string {
  return message + " at line " + line.toString() + " column " + column.toString();
}

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  boolean: bool = false;
  // Number: source text; integer when it has no fraction or exponent.
  number: string = "";
  integer: bool = false;
  // String: decoded UTF-8 bytes.
  str: Array<u8> = new Array<u8>();
  valid: bool = true;
  // Array items, or object member values (with keys alongside).
  items: Array<JsonValue> = new Array<JsonValue>();
  keys: Array<string> = new Array<string>();
  keyLines: Array<i32> = new Array<i32>();
  keyColumns: Array<i32> = new Array<i32>();
  // Before the first byte (where serde_json reports an array or object) and after the last.
  startLine: i32 = 1;
  startColumn: i32 = 0;
  endLine: i32 = 1;
  endColumn: i32 = 0;

  // serde's `invalid type: <this>, expected <expected>` with serde_json's position.
  invalidType(expected: string): string {
    const container = this.kind == JsonKind.Array || this.kind == JsonKind.Object;
    return jsonAt("invalid type: " + this.unexpected() + ", expected " + expected,
      container ? this.startLine : this.endLine, container ? this.startColumn : this.endColumn);
  }

  bytes(): ArrayBuffer {
    const out = new ArrayBuffer(this.str.length);
    const view = Uint8Array.wrap(out);
    for (let i = 0; i < this.str.length; i++) view[i] = this.str[i];
    return out;
  }

  text(): string {
    return String.UTF8.decode(this.bytes());
  }

  // serde's description of the value in an "invalid type" error.
  unexpected(): string {
    switch (this.kind) {
      case JsonKind.Null: return "null";
      case JsonKind.Bool: return this.boolean ? "boolean `true`" : "boolean `false`";
      case JsonKind.Number: return (this.integer ? "integer `" : "floating point `") + this.number + "`";
      case JsonKind.String: return "string " + debugString(this.text());
      case JsonKind.Array: return "sequence";
    }
    return "map";
  }

  // "" when this is a string serde would accept as a Rust String, else the error.
  stringError(): string {
    if (this.kind != JsonKind.String) {
      return this.invalidType("a string");
    }
    if (!this.valid) return jsonAt("invalid unicode code point", this.endLine, this.endColumn);
    return "";
  }
}

function debugString(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += "\\u{" + (<u32>c).toString(16) + "}";
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

function validUtf8(s: Array<u8>): bool {
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = <u32>s[i];
    if (c < 0x80) { i++; continue; }
    let extra = 0;
    let cp: u32 = 0;
    if (c >= 0xC2 && c <= 0xDF) { extra = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { extra = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { extra = 3; cp = c & 0x07; }
    else return false;
    if (i + extra >= n) return false;
    for (let k = 1; k <= extra; k++) {
      const d = <u32>s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

function pushUtf8(out: Array<u8>, cp: u32): void {
  if (cp < 0x80) {
    out.push(<u8>cp);
  } else if (cp < 0x800) {
    out.push(<u8>(0xC0 | (cp >> 6)));
    out.push(<u8>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push(<u8>(0xE0 | (cp >> 12)));
    out.push(<u8>(0x80 | ((cp >> 6) & 0x3F)));
    out.push(<u8>(0x80 | (cp & 0x3F)));
  } else {
    out.push(<u8>(0xF0 | (cp >> 18)));
    out.push(<u8>(0x80 | ((cp >> 12) & 0x3F)));
    out.push(<u8>(0x80 | ((cp >> 6) & 0x3F)));
    out.push(<u8>(0x80 | (cp & 0x3F)));
  }
}

export class JsonParser {
  s: Uint8Array;
  i: i32 = 0;
  line: i32 = 1;
  column: i32 = 0;
  error: string = "";

  constructor(s: Uint8Array) {
    this.s = s;
  }

  // The whole document, or null with `error` set.
  parse(): JsonValue | null {
    const v = new JsonValue();
    if (!this.value(v, 0)) return null;
    this.skipWs();
    if (!this.eof()) {
      this.advance();
      return this.failNull("trailing characters");
    }
    return v;
  }

  private eof(): bool { return this.i >= this.s.length; }
  private peek(): u32 { return <u32>this.s[this.i]; }
  private advance(): u32 {
    const c = <u32>this.s[this.i];
    this.i++;
    if (c == 0x0a) { this.line++; this.column = 0; } else { this.column++; }
    return c;
  }
  private skipWs(): void {
    while (!this.eof()) {
      const c = this.peek();
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.advance();
    }
  }
  private fail(message: string): bool {
    this.error = jsonAt(message, this.line, this.column);
    return false;
  }
  private failNull(message: string): JsonValue | null {
    this.fail(message);
    return null;
  }
  private ident(rest: string): bool {
    for (let k = 0; k < rest.length; k++) {
      if (this.eof()) return this.fail("EOF while parsing a value");
      if (this.advance() != <u32>rest.charCodeAt(k)) return this.fail("expected ident");
    }
    return true;
  }
  private digit(): bool {
    return !this.eof() && this.peek() >= 0x30 && this.peek() <= 0x39;
  }

  private value(v: JsonValue, depth: i32): bool {
    this.skipWs();
    if (this.eof()) return this.fail("EOF while parsing a value");
    const c = this.peek();
    v.startLine = this.line;
    v.startColumn = this.column;
    if (c == 0x6e) { // n
      this.advance();
      if (!this.ident("ull")) return false;
      v.kind = JsonKind.Null;
    } else if (c == 0x74) { // t
      this.advance();
      if (!this.ident("rue")) return false;
      v.kind = JsonKind.Bool;
      v.boolean = true;
    } else if (c == 0x66) { // f
      this.advance();
      if (!this.ident("alse")) return false;
      v.kind = JsonKind.Bool;
    } else if (c == 0x22) {
      this.advance();
      v.kind = JsonKind.String;
      if (!this.string(v.str)) return false;
      v.valid = this.lastValid;
    } else if (c == 0x5b) {
      if (depth >= MAX_DEPTH) return this.fail("recursion limit exceeded");
      this.advance();
      v.kind = JsonKind.Array;
      if (!this.array(v, depth + 1)) return false;
    } else if (c == 0x7b) {
      if (depth >= MAX_DEPTH) return this.fail("recursion limit exceeded");
      this.advance();
      v.kind = JsonKind.Object;
      if (!this.object(v, depth + 1)) return false;
    } else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
      v.kind = JsonKind.Number;
      if (!this.number(v)) return false;
    } else {
      this.advance();
      return this.fail("expected value");
    }
    v.endLine = this.line;
    v.endColumn = this.column;
    return true;
  }

  private number(v: JsonValue): bool {
    const start = this.i;
    let integer = true;
    if (this.peek() == 0x2d) {
      this.advance();
      if (this.eof()) return this.fail("EOF while parsing a value");
      if (!this.digit()) { this.advance(); return this.fail("invalid number"); }
    }
    if (this.peek() == 0x30) {
      this.advance();
      if (this.digit()) { this.advance(); return this.fail("invalid number"); }
    } else {
      while (this.digit()) this.advance();
    }
    if (!this.eof() && this.peek() == 0x2e) {
      integer = false;
      this.advance();
      if (this.eof()) return this.fail("EOF while parsing a value");
      if (!this.digit()) { this.advance(); return this.fail("invalid number"); }
      while (this.digit()) this.advance();
    }
    if (!this.eof() && (this.peek() == 0x65 || this.peek() == 0x45)) {
      integer = false;
      this.advance();
      if (!this.eof() && (this.peek() == 0x2b || this.peek() == 0x2d)) this.advance();
      if (this.eof()) return this.fail("EOF while parsing a value");
      if (!this.digit()) { this.advance(); return this.fail("invalid number"); }
      while (this.digit()) this.advance();
    }
    v.number = String.UTF8.decode(this.s.buffer.slice(this.s.byteOffset + start, this.s.byteOffset + this.i));
    v.integer = integer;
    return true;
  }

  private hexValue: u32 = 0;
  private hex4(): bool {
    let out: u32 = 0;
    for (let k = 0; k < 4; k++) {
      if (this.eof()) return this.fail("EOF while parsing a string");
      const c = this.advance();
      let d: u32 = 0;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return this.fail("invalid escape");
      out = out * 16 + d;
    }
    this.hexValue = out;
    return true;
  }

  private lastValid: bool = true;
  // After the opening quote; sets lastValid.
  private string(out: Array<u8>): bool {
    let valid = true;
    while (true) {
      if (this.eof()) return this.fail("EOF while parsing a string");
      const c = this.advance();
      if (c == 0x22) break;
      if (c < 0x20) return this.fail("control character (\\u0000-\\u001F) found while parsing a string");
      if (c != 0x5c) { out.push(<u8>c); continue; }
      if (this.eof()) return this.fail("EOF while parsing a string");
      const e = this.advance();
      if (e == 0x22) out.push(0x22);
      else if (e == 0x5c) out.push(0x5c);
      else if (e == 0x2f) out.push(0x2f);
      else if (e == 0x62) out.push(0x08);
      else if (e == 0x66) out.push(0x0c);
      else if (e == 0x6e) out.push(0x0a);
      else if (e == 0x72) out.push(0x0d);
      else if (e == 0x74) out.push(0x09);
      else if (e == 0x75) {
        if (!this.hex4()) return false;
        const cp = this.hexValue;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (this.i + 1 < this.s.length && this.s[this.i] == 0x5c && this.s[this.i + 1] == 0x75) {
            this.advance();
            this.advance();
            if (!this.hex4()) return false;
            const lo = this.hexValue;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              pushUtf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
            } else {
              valid = false;
              if (lo < 0xD800 || lo > 0xDFFF) pushUtf8(out, lo);
            }
          } else {
            valid = false;
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          valid = false;
        } else {
          pushUtf8(out, cp);
        }
      } else {
        return this.fail("invalid escape");
      }
    }
    this.lastValid = valid && validUtf8(out);
    return true;
  }

  private array(v: JsonValue, depth: i32): bool {
    this.skipWs();
    if (this.eof()) return this.fail("EOF while parsing a list");
    if (this.peek() == 0x5d) { this.advance(); return true; }
    while (true) {
      const item = new JsonValue();
      if (!this.value(item, depth)) return false;
      v.items.push(item);
      this.skipWs();
      if (this.eof()) return this.fail("EOF while parsing a list");
      const c = this.advance();
      if (c == 0x5d) return true;
      if (c != 0x2c) return this.fail("expected `,` or `]`");
      this.skipWs();
      if (!this.eof() && this.peek() == 0x5d) { this.advance(); return this.fail("trailing comma"); }
    }
    return true;
  }

  private object(v: JsonValue, depth: i32): bool {
    this.skipWs();
    if (this.eof()) return this.fail("EOF while parsing an object");
    if (this.peek() == 0x7d) { this.advance(); return true; }
    let first = true;
    while (true) {
      this.skipWs();
      if (this.eof()) return this.fail(first ? "EOF while parsing an object" : "EOF while parsing a value");
      first = false;
      if (this.peek() != 0x22) {
        const wasClose = this.peek() == 0x7d;
        this.advance();
        return this.fail(wasClose ? "trailing comma" : "key must be a string");
      }
      this.advance();
      const key = new JsonValue();
      key.kind = JsonKind.String;
      if (!this.string(key.str)) return false;
      v.keys.push(key.text());
      v.keyLines.push(this.line);
      v.keyColumns.push(this.column);
      this.skipWs();
      if (this.eof()) return this.fail("EOF while parsing an object");
      if (this.advance() != 0x3a) return this.fail("expected `:`");
      const item = new JsonValue();
      if (!this.value(item, depth)) return false;
      v.items.push(item);
      this.skipWs();
      if (this.eof()) return this.fail("EOF while parsing an object");
      const c = this.advance();
      if (c == 0x7d) return true;
      if (c != 0x2c) return this.fail("expected `,` or `}`");
      this.skipWs();
      if (!this.eof() && this.peek() == 0x7d) { this.advance(); return this.fail("trailing comma"); }
    }
    return true;
  }
}
