package hostile

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
)

// TestZeroBomb checks the DEFLATE stream ZeroBomb makes on a small size.
func TestZeroBomb(t *testing.T) {
	t.Parallel()
	const n = 1 << 20
	data := append(ZeroBomb(n), 0, 0, 0xff, 0xff)
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(data)))
	if err != io.ErrUnexpectedEOF || len(out) < n || len(out) > n+258 || bytes.IndexByte(out, 1) >= 0 {
		t.Fatalf("inflated %d bytes (%v), want %d zeros", len(out), err, n)
	}
	if len(data) > n/150 {
		t.Fatalf("%d bytes inflate to %d", len(data), n)
	}
}

// TestHarness starts a junction with the default config, checks a
// bystander and measures the idle process's peak RSS.
func TestHarness(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	b.Check(t)
	j.CheckRSS(t, 64)
}
