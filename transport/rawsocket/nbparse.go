package rawsocket

// frameParser reads RawSocket frames from a stream handed to it in pieces
// of any size (nbio's OnData: whatever one read of the socket got), the
// nbio engine's counterpart of ReadFrame. Between frames it holds nothing;
// inside one, the part of the prefix or of the payload that came so far.
// A payload is kept in a slice that grows with what arrived, never
// allocated at the length the prefix declares: a client declaring 16 MiB
// and sending nothing holds none of it.
//
// It checks what ReadFrame checks, in the same order: the prefix
// (ParseHeader: errors wrap ErrFrame), then the length against limit (a
// *TooLargeError, read no further). FuzzNbParse holds it to ReadFrame on
// the same bytes cut anywhere.
type frameParser struct {
	hdr  [HeaderLen]byte
	nh   int    // octets of hdr received
	typ  byte   // the current frame's type, once nh == HeaderLen
	need int    // its payload length
	buf  []byte // its payload so far
	err  error  // the parse failed: the stream is not read further
}

// feed parses data, which it does not keep (the caller may reuse it),
// calling emit for each whole frame with its type and payload (a slice of
// its own, which emit may keep). limit is read at each frame's prefix: the
// caller may change what it returns between frames (a session established
// in emit). large, if not nil, is called with true when the prefix of a
// frame longer than smallFrame is read and with false once that frame is
// whole (the nbio engine bounds the time it takes). feed returns the first
// error: the prefix's, the limit's, or emit's; after one, every call
// returns it.
func (fp *frameParser) feed(data []byte, limit func() int, large func(bool), emit func(typ byte, payload []byte) error) error {
	for fp.err == nil && len(data) > 0 {
		if fp.nh < HeaderLen {
			k := copy(fp.hdr[fp.nh:], data)
			fp.nh += k
			data = data[k:]
			if fp.nh < HeaderLen {
				return nil
			}
			if fp.err = fp.header(limit()); fp.err != nil {
				return fp.err
			}
			if fp.need > smallFrame && large != nil {
				large(true)
			}
			if fp.need == 0 {
				fp.err = fp.emit(large, emit, []byte{})
				continue
			}
		}
		// Inside a payload.
		want := fp.need - len(fp.buf)
		if fp.buf == nil && len(data) >= want {
			// The whole payload is here: one allocation of its size.
			fp.err = fp.emit(large, emit, append(make([]byte, 0, want), data[:want]...))
			data = data[want:]
			continue
		}
		k := min(want, len(data))
		fp.buf = grow(fp.buf, k, fp.need)
		fp.buf = append(fp.buf, data[:k]...)
		data = data[k:]
		if len(fp.buf) == fp.need {
			payload := fp.buf
			fp.buf = nil
			fp.err = fp.emit(large, emit, payload)
		}
	}
	return fp.err
}

// header reads the prefix in hdr.
func (fp *frameParser) header(limit int) error {
	typ, n, err := ParseHeader(fp.hdr)
	if err != nil {
		return err
	}
	if n > limit {
		return &TooLargeError{Size: n, Limit: limit}
	}
	fp.typ, fp.need = typ, n
	return nil
}

// emit ends the current frame and hands it on.
func (fp *frameParser) emit(large func(bool), emit func(byte, []byte) error, payload []byte) error {
	if fp.need > smallFrame && large != nil {
		large(false)
	}
	typ := fp.typ
	fp.nh, fp.need = 0, 0
	return emit(typ, payload)
}

// partial reports whether the stream stopped inside a frame.
func (fp *frameParser) partial() bool { return fp.nh > 0 }

// grow makes room in b for k more octets, never past max: the capacity
// doubles with what arrived, up to the frame's length, so a frame that
// arrives whole is held at its size.
func grow(b []byte, k, max int) []byte {
	if cap(b)-len(b) >= k {
		return b
	}
	c := min(max, 2*cap(b))
	if c < len(b)+k {
		c = len(b) + k
	}
	nb := make([]byte, len(b), c)
	copy(nb, b)
	return nb
}
