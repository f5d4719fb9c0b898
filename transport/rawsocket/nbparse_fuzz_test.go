package rawsocket

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzNbParse holds the nbio engine's incremental parser (frameParser) to
// ReadFrame: the same bytes, handed to it in pieces of any sizes (cuts:
// each octet a piece's size, 1 to 256, in turn), give the same frames and
// end the same way: the same error for a bad prefix or a frame over the
// limit, nothing for a stream cut at a frame boundary, a frame in progress
// for one cut inside a frame. Each piece is overwritten once fed, so a
// payload that kept a reference to the caller's buffer shows. The calls
// telling a large frame's start and end pair up. The seed corpus is in
// testdata/fuzz/FuzzNbParse.
func FuzzNbParse(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, '[', ']', 1, 0, 0, 1, 'x', 2, 0, 0, 0}, []byte{1}, false)
	f.Add([]byte{0, 0, 0x40, 1}, []byte{3, 1}, true)
	f.Fuzz(func(t *testing.T, data, cuts []byte, big bool) {
		limit := 1 << 12
		if big {
			limit = smallFrame + 64 // frames over smallFrame are "large"
		}
		type frame struct {
			typ     byte
			payload []byte
		}
		// What ReadFrame reads.
		var want []frame
		var wantErr error
		r := bytes.NewReader(data)
		for {
			typ, payload, err := ReadFrame(r, limit)
			if err != nil {
				wantErr = err
				break
			}
			want = append(want, frame{typ, payload})
		}
		// What the parser reads.
		var got []frame
		var fp frameParser
		starts, ends := 0, 0
		var err error
		scratch := make([]byte, 256)
		for i := 0; len(data) > 0 && err == nil; i++ {
			n := 1
			if len(cuts) > 0 {
				n = int(cuts[i%len(cuts)]) + 1
			}
			n = min(n, len(data))
			piece := scratch[:n]
			copy(piece, data[:n])
			data = data[n:]
			err = fp.feed(piece, func() int { return limit }, func(start bool) {
				if start {
					starts++
				} else {
					ends++
				}
			}, func(typ byte, payload []byte) error {
				got = append(got, frame{typ, payload})
				return nil
			})
			for j := range piece {
				piece[j] = 0xA5
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d frames, ReadFrame read %d (its end: %v; the parser's: %v)", len(got), len(want), wantErr, err)
		}
		for i := range got {
			if got[i].typ != want[i].typ || !bytes.Equal(got[i].payload, want[i].payload) {
				t.Fatalf("frame %d: type %d, %d bytes; ReadFrame: type %d, %d bytes", i, got[i].typ, len(got[i].payload), want[i].typ, len(want[i].payload))
			}
		}
		var tl, wtl *TooLargeError
		switch {
		case wantErr == io.EOF:
			if err != nil || fp.partial() || fp.buf != nil {
				t.Fatalf("stream cut at a frame's end: %v, partial %v", err, fp.partial())
			}
		case errors.Is(wantErr, io.ErrUnexpectedEOF):
			if err != nil || !fp.partial() {
				t.Fatalf("stream cut inside a frame: %v, partial %v", err, fp.partial())
			}
		case errors.As(wantErr, &wtl):
			if !errors.As(err, &tl) || *tl != *wtl {
				t.Fatalf("%v, ReadFrame: %v", err, wantErr)
			}
		case errors.Is(wantErr, ErrFrame):
			if !errors.Is(err, ErrFrame) || err.Error() != wantErr.Error() {
				t.Fatalf("%v, ReadFrame: %v", err, wantErr)
			}
		default:
			t.Fatalf("ReadFrame: %v", wantErr)
		}
		if d := starts - ends; d != 0 && !(d == 1 && fp.partial() && fp.need > smallFrame) {
			t.Fatalf("large frames: %d started, %d ended", starts, ends)
		}
		// After an error, nothing more is read.
		if err != nil {
			if again := fp.feed([]byte{0, 0, 0, 0}, func() int { return limit }, nil, func(byte, []byte) error {
				t.Fatal("a frame after an error")
				return nil
			}); again != err {
				t.Fatalf("fed after %v: %v", err, again)
			}
		}
	})
}
