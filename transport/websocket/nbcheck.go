package websocket

import (
	"encoding/binary"
	"errors"
)

// Frame headers on the nbio engine.
//
// nbio v1.6.8's parser accepts or mishandles four framings RFC 6455
// forbids, which gorilla fails with 1002: an unmasked client frame (section
// 5.1: the server must close), a 64-bit length with its top bit set
// (section 5.2: the most significant bit must be 0; nbio waits for the
// payload forever), a continuation frame with no message to continue
// (section 5.4; nbio closes without a close frame), and a control frame
// with more than 125 bytes of payload (section 5.5; nbio answers 1009). The
// headerCheck sees the client's bytes before nbio's parser does and stops
// at the first header that breaks one of these rules: it reads only
// headers, tracking frame boundaries (the payload bytes are skipped, not
// kept), so it holds 14 bytes at most and costs a few comparisons per
// frame. The rest of the framing (RSV bits, opcodes, fragmented control
// frames, close codes) nbio checks itself.

// Errors of headerCheck: each is a protocol error (close 1002).
var (
	errFrameUnmasked        = errors.New("websocket: client frame is not masked")
	errFrameLengthTopBit    = errors.New("websocket: frame length has its most significant bit set")
	errFrameContinuation    = errors.New("websocket: continuation frame with no message to continue")
	errFrameControlTooLarge = errors.New("websocket: control frame payload longer than 125 bytes")
)

// headerCheck follows the frame boundaries of a client's byte stream and
// checks each frame header. The zero value expects a frame header.
type headerCheck struct {
	skip       uint64   // payload bytes of the current frame still to come
	hdr        [14]byte // the header being read
	n          int      // bytes of hdr read
	fragmented bool     // a data message was started and not finished
	err        error    // the first violation; sticky
}

// check reads data, the next bytes of the stream. It returns how many of
// them come before the first violating header (all of them when there is
// none) and the violation. Once a violation is found, every later call
// returns 0 and it.
func (h *headerCheck) check(data []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	off := 0
	for off < len(data) {
		if h.skip > 0 {
			step := uint64(len(data) - off)
			if step > h.skip {
				step = h.skip
			}
			h.skip -= step
			off += int(step)
			continue
		}
		start := off - h.n // where this header began (negative: in an earlier call)
		need := h.headerLen()
		for h.n < need && off < len(data) {
			h.hdr[h.n] = data[off]
			h.n++
			off++
			need = h.headerLen()
		}
		if h.n >= 2 && h.hdr[1]&0x80 == 0 {
			return h.fail(start, errFrameUnmasked)
		}
		if h.n < need {
			return len(data), nil
		}
		if err := h.frame(); err != nil {
			return h.fail(start, err)
		}
	}
	return len(data), nil
}

// fail records err for the header that began at start.
func (h *headerCheck) fail(start int, err error) (int, error) {
	h.err = err
	return max(start, 0), err
}

// headerLen is the length of the header being read, as far as its bytes
// read so far tell.
func (h *headerCheck) headerLen() int {
	if h.n < 2 {
		return 2
	}
	n := 2 + 4 // masked: checked before the header is complete
	switch h.hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

// frame checks the complete header in hdr and starts skipping its
// payload.
func (h *headerCheck) frame() error {
	fin, opcode := h.hdr[0]&0x80 != 0, h.hdr[0]&0x0f
	length := uint64(h.hdr[1] & 0x7f)
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h.hdr[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(h.hdr[2:10])
		if length>>63 != 0 {
			return errFrameLengthTopBit
		}
	}
	switch {
	case opcode >= 8: // control
		if length > 125 {
			return errFrameControlTooLarge
		}
	case opcode == 0: // continuation
		if !h.fragmented {
			return errFrameContinuation
		}
		h.fragmented = !fin
	default: // text, binary, or reserved (nbio refuses those)
		h.fragmented = !fin
	}
	h.n = 0
	h.skip = length
	return nil
}
