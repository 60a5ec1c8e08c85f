package sdk

import (
	"encoding/binary"
	"math/bits"
)

// SHA-256 and HMAC-SHA-256 (FIPS 180-4, RFC 2104). Go's crypto packages pull in package os
// (through the FIPS module's settings), whose wasip1 build imports file-system WASI functions a
// proxy-wasm host does not offer; this is the little the JWT filter needs.

var sha256K = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// SHA256 is a running SHA-256; the zero value is not ready, use NewSHA256.
type SHA256 struct {
	h   [8]uint32
	buf [64]byte
	n   int    // bytes in buf
	len uint64 // bytes written
}

// NewSHA256 starts a digest.
func NewSHA256() SHA256 {
	return SHA256{h: [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}}
}

func (d *SHA256) block(p []byte) {
	var w [64]uint32
	for i := 0; i < 16; i++ {
		w[i] = binary.BigEndian.Uint32(p[4*i:])
	}
	for i := 16; i < 64; i++ {
		s0 := bits.RotateLeft32(w[i-15], -7) ^ bits.RotateLeft32(w[i-15], -18) ^ w[i-15]>>3
		s1 := bits.RotateLeft32(w[i-2], -17) ^ bits.RotateLeft32(w[i-2], -19) ^ w[i-2]>>10
		w[i] = w[i-16] + s0 + w[i-7] + s1
	}
	a, b, c, e, f, g, h, dd := d.h[0], d.h[1], d.h[2], d.h[4], d.h[5], d.h[6], d.h[7], d.h[3]
	for i := 0; i < 64; i++ {
		t1 := h + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
			((e & f) ^ (^e & g)) + sha256K[i] + w[i]
		t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) +
			((a & b) ^ (a & c) ^ (b & c))
		h, g, f, e, dd, c, b, a = g, f, e, dd+t1, c, b, a, t1+t2
	}
	d.h[0] += a
	d.h[1] += b
	d.h[2] += c
	d.h[3] += dd
	d.h[4] += e
	d.h[5] += f
	d.h[6] += g
	d.h[7] += h
}

// Write adds p to the digest.
func (d *SHA256) Write(p []byte) {
	d.len += uint64(len(p))
	if d.n > 0 {
		k := copy(d.buf[d.n:], p)
		d.n += k
		p = p[k:]
		if d.n < 64 {
			return
		}
		d.block(d.buf[:])
		d.n = 0
	}
	for len(p) >= 64 {
		d.block(p[:64])
		p = p[64:]
	}
	d.n = copy(d.buf[:], p)
}

// Sum returns the digest of what was written (d itself is left unchanged).
func (d SHA256) Sum() [32]byte {
	bitLen := d.len * 8
	pad := [72]byte{0x80}
	k := 56 - d.n
	if k <= 0 {
		k += 64
	}
	binary.BigEndian.PutUint64(pad[k:], bitLen)
	d.Write(pad[:k+8])
	var out [32]byte
	for i, v := range d.h {
		binary.BigEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// HMACSHA256 is keyed once; copies of it (by value) each compute one MAC.
type HMACSHA256 struct {
	inner, outer SHA256
}

// NewHMACSHA256 derives the padded key blocks.
func NewHMACSHA256(key []byte) HMACSHA256 {
	if len(key) > 64 {
		sum := NewSHA256()
		sum.Write(key)
		s := sum.Sum()
		key = s[:]
	}
	var ipad, opad [64]byte
	copy(ipad[:], key)
	copy(opad[:], key)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	m := HMACSHA256{inner: NewSHA256(), outer: NewSHA256()}
	m.inner.Write(ipad[:])
	m.outer.Write(opad[:])
	return m
}

// Write adds message bytes.
func (m *HMACSHA256) Write(p []byte) { m.inner.Write(p) }

// Verify reports whether mac is this message's MAC, in time independent of where they differ.
func (m *HMACSHA256) Verify(mac []byte) bool {
	in := m.inner.Sum()
	outer := m.outer
	outer.Write(in[:])
	sum := outer.Sum()
	if len(mac) != len(sum) {
		return false
	}
	var diff byte
	for i := range sum {
		diff |= sum[i] ^ mac[i]
	}
	return diff == 0
}
