package serializers

import (
	"encoding/binary"
	"strconv"

	"github.com/junction-wamp/junction/wamp"
)

// RequestFrame is an encoded INVOCATION, INTERRUPT or YIELD whose request
// id (its second element) can be replaced without decoding the rest: a
// cluster node hands a callee the INVOCATION another node encoded, under
// the callee's own request id, with the details and payload as they came.
type RequestFrame struct {
	Type       wamp.MessageType
	enc        wamp.Encoding
	data       []byte
	start, end int // the request id's bytes
}

// ParseRequestFrame reads the head of frame, encoded with s, up to its
// request id. ok is false for a message of another type and for anything
// it cannot read there: decode such a frame. The rest of frame is not
// checked: use it only for frames an encoder of this package wrote.
func ParseRequestFrame(s Serializer, frame []byte) (f RequestFrame, ok bool) {
	f.enc, f.data = s.Encoding(), frame
	var t uint64
	switch f.enc {
	case wamp.EncodingJSON:
		t, f.start, f.end, ok = jsonRequestSlot(frame)
	case wamp.EncodingMsgPack:
		t, f.start, f.end, ok = msgpackRequestSlot(frame)
	case wamp.EncodingCBOR:
		t, f.start, f.end, ok = cborRequestSlot(frame)
	}
	f.Type = wamp.MessageType(t)
	if !ok || (f.Type != wamp.INVOCATION && f.Type != wamp.INTERRUPT && f.Type != wamp.YIELD) {
		return RequestFrame{}, false
	}
	return f, true
}

// WithRequest returns a new frame: f's with request id id.
func (f RequestFrame) WithRequest(id wamp.ID) []byte {
	out := make([]byte, 0, len(f.data)+9)
	out = append(out, f.data[:f.start]...)
	switch f.enc {
	case wamp.EncodingJSON:
		out = strconv.AppendUint(out, uint64(id), 10)
	case wamp.EncodingMsgPack:
		out = appendMsgpackUint(out, uint64(id))
	case wamp.EncodingCBOR:
		out = appendCBORUint(out, uint64(id))
	}
	return append(out, f.data[f.end:]...)
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonDigits returns the end of the digits from i (at most 16: an id is
// at most 2^53) and their value.
func jsonDigits(b []byte, i int) (v uint64, end int, ok bool) {
	end = i
	for end < len(b) && b[end] >= '0' && b[end] <= '9' && end-i < 17 {
		v = v*10 + uint64(b[end]-'0')
		end++
	}
	ok = end > i && end-i <= 16 && (b[i] != '0' || end == i+1)
	return v, end, ok
}

// jsonRequestSlot: [type, id, ...
func jsonRequestSlot(b []byte) (t uint64, start, end int, ok bool) {
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return 0, 0, 0, false
	}
	t, i, ok = jsonDigits(b, skipJSONSpace(b, i+1))
	if !ok {
		return 0, 0, 0, false
	}
	i = skipJSONSpace(b, i)
	if i >= len(b) || b[i] != ',' {
		return 0, 0, 0, false
	}
	start = skipJSONSpace(b, i+1)
	v, end, ok := jsonDigits(b, start)
	if !ok || v > uint64(wamp.MaxID) {
		return 0, 0, 0, false
	}
	if j := skipJSONSpace(b, end); j >= len(b) || (b[j] != ',' && b[j] != ']') {
		return 0, 0, 0, false
	}
	return t, start, end, true
}

// msgpackUint reads an unsigned integer at i: its value and end.
func msgpackUint(b []byte, i int) (v uint64, end int, ok bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	c := b[i]
	if c <= 0x7f {
		return uint64(c), i + 1, true
	}
	if c < 0xcc || c > 0xcf {
		return 0, 0, false
	}
	n := 1 << (c - 0xcc)
	if i+1+n > len(b) {
		return 0, 0, false
	}
	for _, x := range b[i+1 : i+1+n] {
		v = v<<8 | uint64(x)
	}
	return v, i + 1 + n, true
}

func appendMsgpackUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= 0xff:
		return append(b, 0xcc, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// msgpackRequestSlot: an array of at least 2, then type and id as
// unsigned integers.
func msgpackRequestSlot(b []byte) (t uint64, start, end int, ok bool) {
	if len(b) == 0 {
		return 0, 0, 0, false
	}
	i := 0
	switch c := b[0]; {
	case c >= 0x92 && c <= 0x9f:
		i = 1
	case c == 0xdc:
		i = 3
	case c == 0xdd:
		i = 5
	default:
		return 0, 0, 0, false
	}
	t, start, ok = msgpackUint(b, i)
	if !ok {
		return 0, 0, 0, false
	}
	v, end, ok := msgpackUint(b, start)
	if !ok || v > uint64(wamp.MaxID) {
		return 0, 0, 0, false
	}
	return t, start, end, true
}

// cborUint reads an unsigned integer (major type 0) at i.
func cborUint(b []byte, i int) (v uint64, end int, ok bool) {
	if i >= len(b) || b[i]>>5 != 0 {
		return 0, 0, false
	}
	ai := b[i] & 0x1f
	if ai < 24 {
		return uint64(ai), i + 1, true
	}
	if ai > 27 {
		return 0, 0, false
	}
	n := 1 << (ai - 24)
	if i+1+n > len(b) {
		return 0, 0, false
	}
	for _, x := range b[i+1 : i+1+n] {
		v = v<<8 | uint64(x)
	}
	return v, i + 1 + n, true
}

func appendCBORUint(b []byte, v uint64) []byte {
	switch {
	case v < 24:
		return append(b, byte(v))
	case v <= 0xff:
		return append(b, 24, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 25), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 27), v)
}

// cborRequestSlot: an array (definite of at least 2, or indefinite), then
// type and id as unsigned integers.
func cborRequestSlot(b []byte) (t uint64, start, end int, ok bool) {
	if len(b) == 0 || b[0]>>5 != 4 {
		return 0, 0, 0, false
	}
	i := 0
	switch ai := b[0] & 0x1f; {
	case ai >= 2 && ai < 24, ai == 31:
		i = 1
	case ai >= 24 && ai <= 27:
		i = 1 + 1<<(ai-24)
	default:
		return 0, 0, 0, false
	}
	t, start, ok = cborUint(b, i)
	if !ok {
		return 0, 0, 0, false
	}
	v, end, ok := cborUint(b, start)
	if !ok || v > uint64(wamp.MaxID) {
		return 0, 0, 0, false
	}
	return t, start, end, true
}
