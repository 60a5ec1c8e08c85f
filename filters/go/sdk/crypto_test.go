package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// The hand-written SHA-256 and HMAC agree with Go's own on every length around the block edges.
func TestSHA256AndHMACMatchTheStandardLibrary(t *testing.T) {
	msg := make([]byte, 300)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	for n := 0; n <= len(msg); n++ {
		d := NewSHA256()
		d.Write(msg[:n/2])
		d.Write(msg[n/2 : n])
		if got, want := d.Sum(), sha256.Sum256(msg[:n]); got != want {
			t.Fatalf("sha256 of %d bytes: %x, want %x", n, got, want)
		}
		key := msg[:n%150]
		m := NewHMACSHA256(key)
		m.Write(msg[:n])
		std := hmac.New(sha256.New, key)
		std.Write(msg[:n])
		want := std.Sum(nil)
		if !m.Verify(want) {
			t.Fatalf("hmac of %d bytes with a %d-byte key differs", n, len(key))
		}
		want[0] ^= 1
		if m.Verify(want) || m.Verify(want[:31]) {
			t.Fatalf("hmac accepted a wrong mac")
		}
	}
}
