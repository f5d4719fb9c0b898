package hostile

import (
	"encoding/binary"
	"math/bits"
)

// WebSocket opcodes (RFC 6455, section 5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Frame is one WebSocket frame as a client writes it, with any header bits
// an attacker may choose.
type Frame struct {
	Fin     bool
	RSV     byte // the three reserved bits, 0..7 (RSV1 is 4: permessage-deflate)
	Opcode  byte
	Masked  bool
	Key     [4]byte // masking key, when Masked
	Payload []byte
	// Length, when set, is the declared payload length instead of
	// len(Payload).
	Length *uint64
}

// Encode returns the frame's bytes on the wire.
func (f Frame) Encode() []byte {
	n := uint64(len(f.Payload))
	if f.Length != nil {
		n = *f.Length
	}
	b0 := f.Opcode & 0x0f
	b0 |= (f.RSV & 7) << 4
	if f.Fin {
		b0 |= 0x80
	}
	out := make([]byte, 0, 14+len(f.Payload))
	out = append(out, b0)
	var mask byte
	if f.Masked {
		mask = 0x80
	}
	switch {
	case n <= 125:
		out = append(out, mask|byte(n))
	case n <= 0xffff:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, n)
	}
	if !f.Masked {
		return append(out, f.Payload...)
	}
	out = append(out, f.Key[:]...)
	for i, c := range f.Payload {
		out = append(out, c^f.Key[i%4])
	}
	return out
}

// Masked is a final, masked frame of opcode with payload and a fixed key.
func Masked(opcode byte, payload []byte) Frame {
	return Frame{Fin: true, Opcode: opcode, Masked: true, Key: [4]byte{0x12, 0x34, 0x56, 0x78}, Payload: payload}
}

// ZeroBomb returns a raw DEFLATE stream (RFC 1951) that inflates to at least
// n zero bytes, in the form permessage-deflate sends a message (RFC 7692,
// section 7.2.1: ending with a sync flush whose last four bytes 00 00 ff ff
// are left off). One fixed-Huffman block of back-references of length 258
// at distance 1: 13 bits for every 258 bytes, so about n/159 bytes.
func ZeroBomb(n int64) []byte {
	var w bitWriter
	w.write(0, 1) // BFINAL 0
	w.write(1, 2) // BTYPE 01: fixed Huffman codes
	w.code(0x30, 8)
	for done := int64(1); done < n; done += 258 {
		w.code(0xc5, 8) // length code 285: 258 bytes
		w.code(0, 5)    // distance code 0: distance 1
	}
	w.code(0, 7)  // end of block (256)
	w.write(0, 3) // an empty stored block: BFINAL 0, BTYPE 00
	w.align()     // its LEN, NLEN (00 00 ff ff) are the tail left off
	return w.out
}

// bitWriter packs bits least significant first, as DEFLATE does.
type bitWriter struct {
	out   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) write(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// code writes a Huffman code of n bits, most significant bit first.
func (w *bitWriter) code(c uint64, n uint) {
	w.write(bits.Reverse64(c)>>(64-n), n)
}

func (w *bitWriter) align() {
	if w.nbits > 0 {
		w.write(0, 8-w.nbits)
	}
}

// FuzzWire turns a fuzz input into the bytes a client writes after the
// WebSocket handshake: each frame is a first header byte (FIN, RSV,
// opcode: as given), a second (mask bit and length code, as given), the
// extended length (2 or 8 bytes, for codes 126 and 127), a masking key (4
// bytes, if the mask bit is set) and the payload: as many bytes as the
// length says, or as remain, masked with the key. A frame's header says
// its length even when fewer bytes remain, so inputs end mid-frame too.
func FuzzWire(data []byte) []byte {
	var out []byte
	next := func(n int) []byte {
		n = min(n, len(data))
		b := data[:n]
		data = data[n:]
		return b
	}
	for len(data) >= 2 {
		h := next(2)
		out = append(out, h...)
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126, 127:
			ext := next(map[uint64]int{126: 2, 127: 8}[n])
			out = append(out, ext...)
			n = 0
			for _, b := range ext {
				n = n<<8 | uint64(b)
			}
		}
		var key []byte
		if h[1]&0x80 != 0 {
			key = next(4)
			out = append(out, key...)
		}
		payload := next(int(min(n, uint64(len(data)))))
		for i, c := range payload {
			if len(key) == 4 {
				c ^= key[i%4]
			}
			out = append(out, c)
		}
	}
	return append(out, data...)
}

// FuzzInput is FuzzWire's inverse for seeds: flags, then each frame with
// its payload unmasked.
func FuzzInput(flags byte, frames ...Frame) []byte {
	out := []byte{flags}
	for _, f := range frames {
		enc := f.Encode()
		hdr := len(enc) - len(f.Payload)
		out = append(out, enc[:hdr]...)
		out = append(out, f.Payload...)
	}
	return out
}
