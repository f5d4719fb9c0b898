package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// wsFrame is a client frame's bytes: header (masked unless unmasked),
// masking key and payload; length, when not 0, is the declared length
// instead of len(payload).
func wsFrame(b0 byte, payload []byte, unmasked bool, length uint64) []byte {
	l := uint64(len(payload))
	if length != 0 {
		l = length
	}
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	out := []byte{b0}
	switch {
	case l < 126:
		out = append(out, mask|byte(l))
	case l <= 0xffff:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(l))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, l)
	}
	if !unmasked {
		out = append(out, 1, 2, 3, 4)
	}
	return append(out, payload...)
}

// scanHeaders is headerCheck's rules applied to a whole stream at once, the
// reference the incremental check is compared with: the offset of the
// first violating header and the violation, or len(data) and nil.
func scanHeaders(data []byte) (int, error) {
	fragmented := false
	for i := 0; i < len(data); {
		if len(data)-i < 2 {
			return len(data), nil
		}
		b0, b1 := data[i], data[i+1]
		if b1&0x80 == 0 {
			return i, errFrameUnmasked
		}
		hl := map[byte]int{126: 8, 127: 14}[b1&0x7f]
		if hl == 0 {
			hl = 6
		}
		if len(data)-i < hl {
			return len(data), nil
		}
		length := uint64(b1 & 0x7f)
		if hl == 8 {
			length = uint64(binary.BigEndian.Uint16(data[i+2:]))
		} else if hl == 14 {
			length = binary.BigEndian.Uint64(data[i+2:])
			if length >= 1<<63 {
				return i, errFrameLengthTopBit
			}
		}
		op, fin := b0&0x0f, b0&0x80 != 0
		switch {
		case op >= 8 && length > 125:
			return i, errFrameControlTooLarge
		case op >= 8:
		case op == 0 && !fragmented:
			return i, errFrameContinuation
		default:
			fragmented = !fin
		}
		if length >= uint64(len(data)-i-hl) {
			return len(data), nil
		}
		i += hl + int(length)
	}
	return len(data), nil
}

// checkChunks feeds data to a headerCheck in chunks cut at cuts (rising
// offsets) and returns how many bytes of data it let through and the
// violation. Bytes of a violating header that came in earlier chunks were
// let through with them: at most the header's first 13 bytes.
func checkChunks(data []byte, cuts []int) (int, error) {
	var h headerCheck
	pos := 0
	for _, c := range append(cuts, len(data)) {
		if c <= pos || c > len(data) {
			continue
		}
		n, err := h.check(data[pos:c])
		if err != nil {
			return pos + n, err
		}
		pos = c
	}
	if pos < len(data) {
		n, err := h.check(data[pos:])
		return pos + n, err
	}
	return len(data), nil
}

func TestHeaderCheck(t *testing.T) {
	hello := []byte(`[16,1,{},"app.t",[]]`)
	text := wsFrame(0x81, hello, false, 0)
	long := wsFrame(0x82, bytes.Repeat([]byte("b"), 70000), false, 0)
	valid := bytes.Join([][]byte{
		text,
		wsFrame(0x01, hello[:3], false, 0), // a fragmented message...
		wsFrame(0x89, []byte("ping"), false, 0),
		wsFrame(0x00, hello[3:9], false, 0),
		wsFrame(0x8A, bytes.Repeat([]byte("p"), 125), false, 0), // a pong of 125 bytes, in it
		wsFrame(0x80, hello[9:], false, 0),                      // ...finished
		wsFrame(0x82, bytes.Repeat([]byte("m"), 300), false, 0),
		long,
		wsFrame(0x88, []byte{0x03, 0xe8}, false, 0),
	}, nil)
	for _, tt := range []struct {
		name string
		data []byte
		at   int
		err  error
	}{
		{"valid frames", valid, len(valid), nil},
		{"a header cut short", valid[:len(text)+1], len(text) + 1, nil},
		{"unmasked frame", append(append([]byte(nil), text...), wsFrame(0x81, hello, true, 0)...), len(text), errFrameUnmasked},
		{"length with the top bit set", append(append([]byte(nil), text...), wsFrame(0x81, nil, false, 1<<63|5)...), len(text), errFrameLengthTopBit},
		{"length of 2^62", wsFrame(0x81, nil, false, 1<<62), 14, nil},
		{"continuation first", wsFrame(0x80, hello, false, 0), 0, errFrameContinuation},
		{"continuation after a whole message", append(append([]byte(nil), text...), wsFrame(0x80, hello, false, 0)...), len(text), errFrameContinuation},
		{"ping of 126 bytes", wsFrame(0x89, bytes.Repeat([]byte("p"), 126), false, 0), 0, errFrameControlTooLarge},
		{"close of 200 bytes after a long message", append(append([]byte(nil), long...), wsFrame(0x88, bytes.Repeat([]byte("c"), 200), false, 0)...), len(long), errFrameControlTooLarge},
	} {
		at, err := checkChunks(tt.data, nil)
		if at != tt.at || !errors.Is(err, tt.err) {
			t.Errorf("%s, whole: at %d, %v; want %d, %v", tt.name, at, err, tt.at, tt.err)
		}
		cuts := make([]int, len(tt.data))
		for i := range cuts {
			cuts[i] = i + 1
		}
		at, err = checkChunks(tt.data, cuts)
		if !sameCheck(at, err, tt.at, tt.err) {
			t.Errorf("%s, a byte at a time: at %d, %v; want %d, %v", tt.name, at, err, tt.at, tt.err)
		}
		if rat, rerr := scanHeaders(tt.data); rat != tt.at || !errors.Is(rerr, tt.err) {
			t.Errorf("%s, reference: at %d, %v; want %d, %v", tt.name, rat, rerr, tt.at, tt.err)
		}
	}
}

// TestHeaderCheckSticky: after a violation, the check lets nothing more
// through.
func TestHeaderCheckSticky(t *testing.T) {
	var h headerCheck
	if _, err := h.check(wsFrame(0x80, nil, false, 0)); !errors.Is(err, errFrameContinuation) {
		t.Fatalf("continuation first: %v", err)
	}
	if n, err := h.check(wsFrame(0x81, []byte("x"), false, 0)); n != 0 || !errors.Is(err, errFrameContinuation) {
		t.Fatalf("after the violation: %d bytes let through, %v", n, err)
	}
}

// sameCheck: a chunked check that let at bytes through and found err agrees
// with the whole stream's first violation want at offset wantAt.
func sameCheck(at int, err error, wantAt int, want error) bool {
	if (err == nil) != (want == nil) || !errors.Is(err, want) {
		return false
	}
	if want == nil {
		return at == wantAt
	}
	return at >= wantAt && at < wantAt+14
}

// FuzzHeaderCheck: the incremental check, fed the stream in chunks cut
// anywhere, finds the same first violation as the reference reading the
// stream whole, and lets through everything before that frame's header
// and nothing after it.
func FuzzHeaderCheck(f *testing.F) {
	hello := []byte(`[16,1,{},"app.t",[]]`)
	f.Add(wsFrame(0x81, hello, false, 0), []byte{1, 7})
	f.Add(append(wsFrame(0x01, hello[:4], false, 0), wsFrame(0x80, hello[4:], false, 0)...), []byte{3, 9, 20})
	f.Add(wsFrame(0x81, hello, true, 0), []byte{1})
	f.Add(wsFrame(0x81, nil, false, 1<<63|5), []byte{4})
	f.Add(wsFrame(0x80, hello, false, 0), []byte{})
	f.Add(wsFrame(0x89, bytes.Repeat([]byte("p"), 126), false, 0), []byte{2, 2})
	f.Add(wsFrame(0x82, bytes.Repeat([]byte("b"), 300), false, 0), []byte{5, 100})
	f.Fuzz(func(t *testing.T, data, cutBytes []byte) {
		cuts := make([]int, 0, len(cutBytes))
		pos := 0
		for _, c := range cutBytes {
			pos += int(c)
			cuts = append(cuts, pos)
		}
		at, err := checkChunks(data, cuts)
		rat, rerr := scanHeaders(data)
		if !sameCheck(at, err, rat, rerr) {
			t.Fatalf("chunks %v: at %d, %v; the whole stream: at %d, %v", cuts, at, err, rat, rerr)
		}
	})
}
