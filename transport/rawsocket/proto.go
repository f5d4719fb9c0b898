package rawsocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"sync"
)

// Magic is the first octet of a RawSocket handshake, in both directions. No
// HTTP request starts with it, which is what lets one port serve both.
const Magic = 0x7F

// The serializer ids of the handshake (the low 4 bits of its second octet).
const (
	SerializerJSON    byte = 1
	SerializerMsgpack byte = 2
	SerializerCBOR    byte = 3
)

var serializerNames = map[byte]string{SerializerJSON: "json", SerializerMsgpack: "msgpack", SerializerCBOR: "cbor"}

// SerializerID is the handshake id of the serializer named name ("json",
// "msgpack", "cbor").
func SerializerID(name string) (byte, bool) {
	for id, n := range serializerNames {
		if n == name {
			return id, true
		}
	}
	return 0, false
}

// SerializerName is the name of the serializer of handshake id id, or a
// description of an id that names none.
func SerializerName(id byte) string {
	if n, ok := serializerNames[id]; ok {
		return n
	}
	return "serializer " + strconv.Itoa(int(id))
}

// HandshakeError is a router's refusal of a handshake (the high 4 bits of
// the second octet of its reply, whose low 4 bits are zero).
type HandshakeError byte

// The refusals the spec defines. 0 is illegal.
const (
	ErrSerializerUnsupported HandshakeError = 1 // the serializer asked for is not served
	ErrLengthUnacceptable    HandshakeError = 2 // the client's maximum message length is too small
	ErrReservedBits          HandshakeError = 3 // the reserved octets are not zero
	ErrConnectionLimit       HandshakeError = 4 // the router holds all the connections it may
)

func (e HandshakeError) Error() string {
	switch e {
	case ErrSerializerUnsupported:
		return "rawsocket: serializer unsupported"
	case ErrLengthUnacceptable:
		return "rawsocket: maximum message length unacceptable"
	case ErrReservedBits:
		return "rawsocket: use of reserved bits"
	case ErrConnectionLimit:
		return "rawsocket: maximum connection count reached"
	}
	return "rawsocket: handshake error " + strconv.Itoa(int(e))
}

// ErrNotRawSocket is a handshake whose first octet is not Magic.
var ErrNotRawSocket = errors.New("rawsocket: first octet is not the RawSocket magic 0x7F")

// The message lengths a handshake can announce: 2^(9+L) for L in 0..15.
const (
	MinLength = 1 << 9  // 512 octets, L = 0
	MaxLength = 1 << 24 // 16 MiB, L = 15
)

// LengthCode is the handshake's LENGTH field for a maximum of max octets:
// the largest power of two not over max, from MinLength to MaxLength.
func LengthCode(max int) byte {
	switch {
	case max <= MinLength:
		return 0
	case max >= MaxLength:
		return 15
	}
	return byte(bits.Len(uint(max)) - 1 - 9)
}

// LengthOf is the maximum message length a LENGTH field announces.
func LengthOf(code byte) int { return 1 << (9 + int(code&0x0F)) }

// Handshake is a client's handshake request, or a router's accepting
// reply: the serializer and the maximum length of the messages its sender
// will receive.
type Handshake struct {
	Serializer byte // SerializerJSON, SerializerMsgpack or SerializerCBOR
	MaxLength  int  // the largest message the sender of the handshake accepts
}

// Bytes are the handshake's 4 octets.
func (h Handshake) Bytes() [4]byte {
	return [4]byte{Magic, LengthCode(h.MaxLength)<<4 | h.Serializer&0x0F, 0, 0}
}

// ErrorReply are the 4 octets of a router's refusal.
func ErrorReply(e HandshakeError) [4]byte { return [4]byte{Magic, byte(e) << 4, 0, 0} }

// ParseRequest reads a client's handshake request. Errors: ErrNotRawSocket,
// ErrReservedBits for reserved octets that are not zero, and
// ErrSerializerUnsupported for the illegal serializer 0 (an id the router
// does not serve is for the caller to refuse).
func ParseRequest(b [4]byte) (Handshake, error) {
	if b[0] != Magic {
		return Handshake{}, ErrNotRawSocket
	}
	h := Handshake{Serializer: b[1] & 0x0F, MaxLength: LengthOf(b[1] >> 4)}
	switch {
	case b[2] != 0 || b[3] != 0:
		return h, ErrReservedBits
	case h.Serializer == 0:
		return h, ErrSerializerUnsupported
	}
	return h, nil
}

// ParseReply reads a router's reply to a request for serializer ser: the
// router's maximum length, a HandshakeError for a refusal, or an error for
// a reply that breaks the protocol.
func ParseReply(b [4]byte, ser byte) (Handshake, error) {
	if b[0] != Magic {
		return Handshake{}, fmt.Errorf("rawsocket: reply starts with 0x%02x, not the magic 0x7F", b[0])
	}
	if b[2] != 0 || b[3] != 0 {
		return Handshake{}, errors.New("rawsocket: reply has reserved octets set")
	}
	if b[1]&0x0F == 0 {
		return Handshake{}, HandshakeError(b[1] >> 4)
	}
	h := Handshake{Serializer: b[1] & 0x0F, MaxLength: LengthOf(b[1] >> 4)}
	if h.Serializer != ser {
		return h, fmt.Errorf("rawsocket: router answered %s to a request for %s", SerializerName(h.Serializer), SerializerName(ser))
	}
	return h, nil
}

// The frame types (the low 3 bits of a frame's first octet).
const (
	FrameMessage byte = 0 // a serialized WAMP message
	FramePing    byte = 1 // answered by a PONG echoing its payload
	FramePong    byte = 2
)

// HeaderLen is the size of a frame's prefix.
const HeaderLen = 4

// Header is a frame's 4-octet prefix: its type and payload length (at most
// MaxLength; exactly MaxLength sets the 25th length bit).
func Header(typ byte, n int) [4]byte {
	if n == MaxLength {
		return [4]byte{typ | 0x08, 0, 0, 0}
	}
	return [4]byte{typ & 0x07, byte(n >> 16), byte(n >> 8), byte(n)}
}

// ErrFrame is wrapped by the errors of ParseHeader and ReadFrame for a
// prefix that breaks the protocol.
var ErrFrame = errors.New("rawsocket: bad frame")

// ParseHeader reads a frame's prefix. Errors wrap ErrFrame: reserved bits
// set, a reserved type, the 25th length bit with other length bits.
func ParseHeader(h [4]byte) (typ byte, n int, err error) {
	typ = h[0] & 0x07
	n = int(binary.BigEndian.Uint32(h[:]) & 0x00FFFFFF)
	switch {
	case h[0]&0xF0 != 0:
		return typ, n, fmt.Errorf("%w: reserved bits set in 0x%02x", ErrFrame, h[0])
	case typ > FramePong:
		return typ, n, fmt.Errorf("%w: reserved frame type %d", ErrFrame, typ)
	case h[0]&0x08 != 0:
		if n != 0 {
			return typ, n, fmt.Errorf("%w: length bit 25 set with a length of %d", ErrFrame, n)
		}
		n = MaxLength
	}
	return typ, n, nil
}

// TooLargeError is a frame longer than the reader accepts.
type TooLargeError struct{ Size, Limit int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("rawsocket: frame of %d octets over the limit of %d", e.Size, e.Limit)
}

// ReadFrame reads one frame from r, its payload at most limit octets, into
// a new slice of its exact size. The payload is read as it comes, into a
// buffer that grows with what arrived, not allocated at the declared
// length: a client declaring 16 MiB and sending nothing holds none of it.
// A frame over limit is a *TooLargeError, read no further; a bad prefix
// wraps ErrFrame; a connection that ends inside a frame is
// io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, limit int) (typ byte, payload []byte, err error) {
	return readFrame(r, limit, nil)
}

// readFrame is ReadFrame; large, if set, is called once the prefix of a
// frame longer than smallFrame is read, and what it returns once the frame
// is (the router's end bounds the time such a frame takes).
func readFrame(r io.Reader, limit int, large func() (done func())) (typ byte, payload []byte, err error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	typ, n, err := ParseHeader(h)
	if err != nil {
		return typ, nil, err
	}
	if n > limit {
		return typ, nil, &TooLargeError{Size: n, Limit: limit}
	}
	if n <= smallFrame {
		payload = make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return typ, nil, unexpected(err)
		}
		return typ, payload, nil
	}
	if large != nil {
		defer large()()
	}
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	got, err := buf.ReadFrom(io.LimitReader(r, int64(n)))
	if err == nil && got < int64(n) {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		payload = bytes.Clone(buf.Bytes())
	}
	if buf.Cap() <= 1<<20 {
		readBufs.Put(buf)
	}
	return typ, payload, unexpected(err)
}

// smallFrame is the size up to which a frame is read straight into a slice
// of its size: small enough that a client declaring it and sending nothing
// makes the router hold little.
const smallFrame = 16 << 10

// readBufs are the buffers larger frames are read into before they are
// copied out at their exact size.
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
