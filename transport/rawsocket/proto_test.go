package rawsocket

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestLengthCode(t *testing.T) {
	for _, c := range []struct {
		max  int
		code byte
	}{{0, 0}, {512, 0}, {1023, 0}, {1024, 1}, {64 << 10, 7}, {16<<20 - 1, 14}, {16 << 20, 15}, {1 << 30, 15}} {
		if got := LengthCode(c.max); got != c.code {
			t.Errorf("LengthCode(%d) = %d, want %d", c.max, got, c.code)
		}
	}
	if LengthOf(0) != 512 || LengthOf(15) != 16<<20 {
		t.Fatalf("LengthOf: %d %d", LengthOf(0), LengthOf(15))
	}
}

func TestHandshakeBytes(t *testing.T) {
	// The spec's examples: msgpack, 16 MiB is 0xF2; json, 512 octets 0x01.
	if b := (Handshake{Serializer: SerializerMsgpack, MaxLength: MaxLength}).Bytes(); b != [4]byte{0x7F, 0xF2, 0, 0} {
		t.Fatalf("msgpack 16M: % x", b)
	}
	if b := (Handshake{Serializer: SerializerJSON, MaxLength: 512}).Bytes(); b != [4]byte{0x7F, 0x01, 0, 0} {
		t.Fatalf("json 512: % x", b)
	}
	if b := ErrorReply(ErrSerializerUnsupported); b != [4]byte{0x7F, 0x10, 0, 0} {
		t.Fatalf("error 1: % x", b)
	}
	for _, c := range []struct {
		in  [4]byte
		err error
	}{
		{[4]byte{0x7F, 0xF1, 0, 0}, nil},
		{[4]byte{'G', 'E', 'T', ' '}, ErrNotRawSocket},
		{[4]byte{0x7F, 0xF0, 0, 0}, ErrSerializerUnsupported},
		{[4]byte{0x7F, 0xF1, 0, 1}, ErrReservedBits},
		{[4]byte{0x7F, 0xF1, 1, 0}, ErrReservedBits},
	} {
		if _, err := ParseRequest(c.in); !errors.Is(err, c.err) {
			t.Errorf("ParseRequest(% x) = %v, want %v", c.in, err, c.err)
		}
	}
	if _, err := ParseReply([4]byte{0x7F, 0x40, 0, 0}, SerializerJSON); err != ErrConnectionLimit {
		t.Fatalf("refusal: %v", err)
	}
	if _, err := ParseReply([4]byte{0x7F, 0xF2, 0, 0}, SerializerJSON); err == nil {
		t.Fatal("a reply for another serializer is accepted")
	}
}

func TestHeader(t *testing.T) {
	for _, n := range []int{0, 1, 300, 1<<24 - 1, 1 << 24} {
		for _, typ := range []byte{FrameMessage, FramePing, FramePong} {
			gt, gn, err := ParseHeader(Header(typ, n))
			if err != nil || gt != typ || gn != n {
				t.Fatalf("Header(%d, %d) reads back as %d, %d, %v", typ, n, gt, gn, err)
			}
		}
	}
	if h := Header(FrameMessage, 1<<24); h != [4]byte{0x08, 0, 0, 0} {
		t.Fatalf("16M: % x", h)
	}
	for _, h := range [][4]byte{{0x10, 0, 0, 1}, {0x03, 0, 0, 1}, {0x07, 0, 0, 0}, {0x08, 0, 0, 1}} {
		if _, _, err := ParseHeader(h); !errors.Is(err, ErrFrame) {
			t.Errorf("ParseHeader(% x) = %v, want ErrFrame", h, err)
		}
	}
}

func TestReadFrame(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100<<10)
	var wire []byte
	for _, p := range [][]byte{[]byte("[1]"), big, nil} {
		h := Header(FrameMessage, len(p))
		wire = append(append(wire, h[:]...), p...)
	}
	r := bytes.NewReader(wire)
	for _, want := range [][]byte{[]byte("[1]"), big, {}} {
		typ, got, err := ReadFrame(r, 1<<20)
		if err != nil || typ != FrameMessage || !bytes.Equal(got, want) {
			t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(want))
		}
	}
	if _, _, err := ReadFrame(r, 1<<20); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	// Over the limit: refused from its prefix.
	h := Header(FrameMessage, 2000)
	var tl *TooLargeError
	if _, _, err := ReadFrame(bytes.NewReader(h[:]), 1000); !errors.As(err, &tl) || tl.Size != 2000 {
		t.Fatalf("over the limit: %v", err)
	}
	// Cut inside the payload, small and large.
	for _, n := range []int{100, 100 << 10} {
		h := Header(FrameMessage, n)
		if _, _, err := ReadFrame(bytes.NewReader(append(h[:], 1, 2, 3)), 1<<20); err != io.ErrUnexpectedEOF {
			t.Fatalf("cut frame of %d: %v", n, err)
		}
	}
}
