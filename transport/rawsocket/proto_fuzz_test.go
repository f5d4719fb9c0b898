package rawsocket

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzRawSocketParse holds the wire format's parsers to the spec and to their
// encoders: a handshake request or frame prefix that parses is written
// back the same by Bytes or Header, and each error is the one for the rule
// broken; ReadFrame reads a stream of frames as their prefixes say (each
// frame written back is the bytes it consumed), stops at a prefix over its
// limit having read only the prefix, and tells a stream cut at a frame's
// boundary (io.EOF) from one cut inside it (io.ErrUnexpectedEOF).
func FuzzRawSocketParse(f *testing.F) {
	for _, seed := range [][]byte{
		{Magic, 0xF1, 0, 0}, {Magic, 0x00, 0, 0}, {Magic, 0xF2, 0, 1}, {'G', 'E', 'T', ' '},
		{0, 0, 0, 2, '[', ']', 1, 0, 0, 0, 2, 0, 0, 1, 'x'},
		{0x08, 0, 0, 0}, {0x08, 0, 0, 1}, {0x10, 0, 0, 0}, {0x07, 0, 0, 0}, {0, 1, 0, 1, 'x'},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 4 {
			b := [4]byte(data)
			checkRequest(t, b)
			checkHeader(t, b)
		}
		checkFrames(t, data, 1<<12)
	})
}

func checkRequest(t *testing.T, b [4]byte) {
	h, err := ParseRequest(b)
	var want error
	switch {
	case b[0] != Magic:
		want = ErrNotRawSocket
	case b[2] != 0 || b[3] != 0:
		want = ErrReservedBits
	case b[1]&0x0F == 0:
		want = ErrSerializerUnsupported
	}
	if !errors.Is(err, want) || (err == nil) != (want == nil) {
		t.Fatalf("ParseRequest(% x): %v, want %v", b, err, want)
	}
	if err != nil {
		return
	}
	if h.MaxLength < MinLength || h.MaxLength > MaxLength || h.Bytes() != b {
		t.Fatalf("ParseRequest(% x) = %+v, written back % x", b, h, h.Bytes())
	}
	if r, err := ParseReply(b, h.Serializer); err != nil || r != h {
		t.Fatalf("ParseReply(% x) = %+v, %v; the request's %+v", b, r, err, h)
	}
}

func checkHeader(t *testing.T, b [4]byte) {
	typ, n, err := ParseHeader(b)
	bad := b[0]&0xF0 != 0 || b[0]&0x07 > FramePong || b[0]&0x08 != 0 && (b[1]|b[2]|b[3]) != 0
	if bad != (err != nil) || err != nil && !errors.Is(err, ErrFrame) {
		t.Fatalf("ParseHeader(% x): %v", b, err)
	}
	if err == nil && (n > MaxLength || Header(typ, n) != b) {
		t.Fatalf("ParseHeader(% x) = %d, %d, written back % x", b, typ, n, Header(typ, n))
	}
}

// checkFrames reads data as a stream of frames of at most limit bytes.
func checkFrames(t *testing.T, data []byte, limit int) {
	r := bytes.NewReader(data)
	for range len(data) + 1 {
		at := len(data) - r.Len()
		typ, payload, err := ReadFrame(r, limit)
		used := data[at : len(data)-r.Len()]
		var tl *TooLargeError
		switch {
		case err == nil:
			h := Header(typ, len(payload))
			if !bytes.Equal(append(h[:], payload...), used) {
				t.Fatalf("frame at %d: type %d, %d bytes, written back unlike the %d bytes read", at, typ, len(payload), len(used))
			}
			continue
		case err == io.EOF:
			if len(used) != 0 || at != len(data) {
				t.Fatalf("io.EOF at %d of %d, after %d bytes", at, len(data), len(used))
			}
		case errors.Is(err, io.ErrUnexpectedEOF):
			if len(used) == 0 || r.Len() != 0 {
				t.Fatalf("io.ErrUnexpectedEOF at %d with %d bytes left", at, r.Len())
			}
		case errors.As(err, &tl):
			if tl.Size <= limit || tl.Limit != limit || len(used) != HeaderLen {
				t.Fatalf("%v after reading %d bytes", err, len(used))
			}
		case errors.Is(err, ErrFrame):
			if len(used) != HeaderLen {
				t.Fatalf("%v after reading %d bytes", err, len(used))
			}
		default:
			t.Fatalf("frame at %d: %v", at, err)
		}
		return
	}
	t.Fatal("more frames than bytes")
}
