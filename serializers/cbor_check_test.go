package serializers

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// cborCall is the head of a CBOR CALL, [48, 1, {}, "p", ...], for n elements.
func cborCall(n byte, rest ...byte) []byte {
	return append([]byte{0x80 | n, 0x18, 0x30, 0x01, 0xa0, 0x61, 'p'}, rest...)
}

// nestedCBOR is args nested depth arrays deep around one integer.
func nestedCBOR(depth int) []byte {
	return append(bytes.Repeat([]byte{0x81}, depth), 0x01)
}

// TestCBORStructure: what checkCBOR refuses, each also refused by Decode.
func TestCBORStructure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"array of 2^31 elements", cborCall(5, 0x9a, 0x80, 0x00, 0x00, 0x00)},
		{"array of 2^64-1 elements", cborCall(5, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"map of 2^31 pairs", cborCall(6, 0x80, 0xba, 0x80, 0x00, 0x00, 0x00)},
		{"map of 2^63 pairs", cborCall(6, 0x80, 0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0)},
		{"map of 3 pairs in 5 bytes", cborCall(6, 0x80, 0xa3, 1, 2, 3, 4, 5)},
		{"byte string of 2^63 bytes", cborCall(5, 0x81, 0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0)},
		{"text string of 2^64-1 bytes", cborCall(5, 0x81, 0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"args nested 32 deep (33 with the message)", cborCall(5, nestedCBOR(32)...)},
		{"args nested 10,000 deep", cborCall(5, nestedCBOR(10000)...)},
		{"indefinite arrays 10,000 deep", cborCall(5, bytes.Repeat([]byte{0x9f}, 10000)...)},
		{"indefinite array without a break", cborCall(5, 0x9f, 1, 2, 3)},
		{"indefinite map ending after a key", cborCall(6, 0x80, 0xbf, 0x61, 'k', 0xff)},
		{"indefinite string without a break", cborCall(5, 0x81, 0x7f, 0x61, 'a')},
		{"indefinite string with a byte string chunk", cborCall(5, 0x81, 0x7f, 0x41, 'a', 0xff)},
		{"indefinite string with an indefinite chunk", cborCall(5, 0x81, 0x7f, 0x7f, 0xff, 0xff)},
		{"indefinite integer", cborCall(5, 0x81, 0x1f)},
		{"indefinite tag", cborCall(5, 0x81, 0xdf, 0x01)},
		{"break outside an indefinite item", cborCall(5, 0x81, 0xff)},
		{"reserved additional information", cborCall(5, 0x81, 0x1c)},
		{"simple value below 32 in two bytes", cborCall(5, 0x81, 0xf8, 0x10)},
		{"tag without content", cborCall(5, 0x81, 0xc1)},
		{"tags 100,000 deep", cborCall(5, append(append([]byte{0x81}, bytes.Repeat([]byte{0xc1}, 100000)...), 0x01)...)},
		{"truncated argument", cborCall(5, 0x81, 0x19, 0x01)},
		{"trailing byte", cborCall(5, 0x81, 0x01, 0x01)},
		{"empty", nil},
	} {
		if _, err := cborSer.Decode(c.data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode: %v", c.name, err)
		}
	}
}

// TestCBORBounds: the bounds are the decoder's own (32 levels, the
// message's list included, nested tags counted as it counts them; 131072
// elements or pairs), so what Decode lets through the library accepts, and
// what the library refuses Decode refuses. Payloads are never read by the
// library on their way to CBOR peers.
func TestCBORBounds(t *testing.T) {
	t.Parallel()
	tagged := func(n int, item ...byte) []byte { return append(bytes.Repeat([]byte{0xd8, 0x2a}, n), item...) }
	count := func(head []byte, n int, item byte) []byte { return append(head, bytes.Repeat([]byte{item}, n)...) }
	for _, c := range []struct {
		name string
		ok   bool
		data []byte
	}{
		{"32 levels", true, cborCall(5, nestedCBOR(31)...)},
		{"33 levels", false, cborCall(5, nestedCBOR(32)...)},
		{"a tag on the 32nd level", true, cborCall(5, append(bytes.Repeat([]byte{0x81}, 30), tagged(1, 0x81, 0x01)...)...)},
		{"two tags on the 32nd level", false, cborCall(5, append(bytes.Repeat([]byte{0x81}, 30), tagged(2, 0x81, 0x01)...)...)},
		{"31 tags on a scalar on level 2", true, cborCall(5, append([]byte{0x81}, tagged(31, 0x01)...)...)},
		{"32 tags on a scalar on level 2", false, cborCall(5, append([]byte{0x81}, tagged(32, 0x01)...)...)},
		{"indefinite, 33 levels", false, cborCall(5, append(bytes.Repeat([]byte{0x9f}, 32), bytes.Repeat([]byte{0xff}, 32)...)...)},
		{"131072 elements", true, count(cborCall(5, 0x9a, 0x00, 0x02, 0x00, 0x00), 131072, 0x01)},
		{"131073 elements", false, count(cborCall(5, 0x9a, 0x00, 0x02, 0x00, 0x01), 131073, 0x01)},
		{"131072 pairs", true, count(cborCall(6, 0x80, 0xba, 0x00, 0x02, 0x00, 0x00), 2*131072, 0x01)},
		{"131073 pairs", false, count(cborCall(6, 0x80, 0xba, 0x00, 0x02, 0x00, 0x01), 2*131073, 0x01)},
		{"indefinite, 131072 elements", true, append(count(cborCall(5, 0x9f), 131072, 0x01), 0xff)},
		{"indefinite, 131073 elements", false, append(count(cborCall(5, 0x9f), 131073, 0x01), 0xff)},
		{"indefinite, 131073 pairs", false, append(count(cborCall(6, 0x80, 0xbf), 2*131073, 0x01), 0xff)},
	} {
		_, err := cborSer.Decode(c.data)
		libErr := cborDec.Wellformed(c.data)
		if c.ok != (err == nil) || c.ok != (libErr == nil) {
			t.Errorf("%s: Decode: %v; library: %v", c.name, err, libErr)
		}
	}
}

// TestCBORValidAccepted: well-formed items of every kind pass checkCBOR,
// as they pass the library.
func TestCBORValidAccepted(t *testing.T) {
	t.Parallel()
	for _, item := range [][]byte{
		{0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // 2^64-1
		{0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // -2^64
		{0xf9, 0x7e, 0x00}, {0xfa, 0x7f, 0x80, 0, 0}, {0xfb, 0, 0, 0, 0, 0, 0, 0, 0}, // floats
		{0xf4}, {0xf5}, {0xf6}, {0xf7}, {0xf0}, {0xf8, 0xff}, // simple values
		{0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0},                  // tag 1
		{0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0},               // bignum 2^64
		{0xd9, 0xd9, 0xf7, 0x80},                              // self-described, []
		{0x5f, 0x41, 0x00, 0x40, 0xff},                        // indefinite bytes
		{0x7f, 0xff},                                          // indefinite empty text
		{0x9f, 0x9f, 0xff, 0xbf, 0x61, 'k', 0x01, 0xff, 0xff}, // indefinite array of containers
		{0xa2, 0x01, 0x02, 0x81, 0x01, 0x03},                  // non-string keys
		{0x78, 0x02, 0xc3, 0xbc},                              // text8 "ü"
	} {
		frame := cborCall(5, append([]byte{0x81}, item...)...)
		if err := checkCBOR(frame); err != nil {
			t.Errorf("%x: %v", item, err)
		}
		if err := cborDec.Wellformed(frame); err != nil {
			t.Errorf("%x: library: %v", item, err)
		}
	}
}

// TestHostileCBORAllocations: a few bytes declaring a huge container make
// neither Decode nor the library (as transcoding uses it) allocate for it.
// Not parallel: it reads the process's allocation counters.
func TestHostileCBORAllocations(t *testing.T) {
	frames := [][]byte{
		cborCall(5, 0x9a, 0x80, 0x00, 0x00, 0x00),             // args: array of 2^31
		cborCall(6, 0x80, 0xba, 0x80, 0x00, 0x00, 0x00),       // kwargs: map of 2^31 pairs
		{0x9a, 0x80, 0x00, 0x00, 0x00, 0x18, 0x30},            // the message itself: 2^31 elements
		cborCall(5, 0x9a, 0x00, 0x02, 0x00, 0x00, 0x01),       // 131072 elements, the library's limit
		cborCall(5, 0x9f, 0x81, 0x9a, 0x80, 0x00, 0x00, 0x00), // inside an indefinite array
	}
	for _, data := range frames {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := cborSer.Decode(data); err == nil {
				t.Fatalf("%x accepted", data)
			}
			var v any
			if err := cborDec.Unmarshal(data, &v); err == nil {
				t.Fatalf("%x: library accepted", data)
			}
			var l []cbor.RawMessage
			_ = cborDec.Unmarshal(data, &l)
		})
		runtime.ReadMemStats(&after)
		// 101 runs: a preallocated container of even 2^17 elements would be
		// megabytes per run.
		perRun := (after.TotalAlloc - before.TotalAlloc) / 101
		t.Logf("%x: %d bytes, %.0f allocations per run", data, perRun, allocs)
		if perRun > 4096 || allocs > 20 {
			t.Errorf("%x: %d bytes, %.0f allocations per run", data, perRun, allocs)
		}
	}
}
