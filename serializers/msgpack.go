package serializers

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/junction-wamp/junction/wamp"
)

// msgpackSerializer is wamp.2.msgpack: binary frames, vmihailenco/msgpack/v5.
type msgpackSerializer struct{}

var _ Serializer = (*msgpackSerializer)(nil)

func (*msgpackSerializer) Name() string            { return "msgpack" }
func (*msgpackSerializer) Subprotocol() string     { return "wamp.2.msgpack" }
func (*msgpackSerializer) Binary() bool            { return true }
func (*msgpackSerializer) Encoding() wamp.Encoding { return wamp.EncodingMsgPack }

// jsUndefined is msgpack extension type 0 with no payload, which JavaScript
// encoders (msgpackr, used by wampy) write for the value undefined. It decodes
// as "absent": dropped from dicts, nil in payloads.
type jsUndefined struct{}

func init() {
	msgpack.RegisterExtDecoder(0, jsUndefined{}, func(d *msgpack.Decoder, _ reflect.Value, extLen int) error {
		return d.ReadFull(make([]byte, extLen))
	})
}

// dropUndefined removes the keys whose value is JavaScript's undefined.
func dropUndefined(m map[string]any) map[string]any {
	for k, v := range m {
		switch x := v.(type) {
		case jsUndefined:
			delete(m, k)
		case map[string]any:
			dropUndefined(x)
		}
	}
	return m
}

// msgpackDict decodes a dict of the message's header: JavaScript's
// undefined values are dropped, then the values are normalized as
// payloads are (bin stays []byte: the reader's loose decoding, which
// would make it a string, is not used for dicts).
func msgpackDict(d *msgpack.Decoder) (map[string]any, error) {
	m, err := decodeMsgpackMap(d)
	if err != nil {
		return nil, err
	}
	return normalizeMsgpack(dropUndefined(m.(map[string]any))).(map[string]any), nil
}

// decodeMsgpackMap is the decoders' map decoder: a map whose keys are all
// str. vmihailenco/msgpack would take a bin key, or nil (as ""), for a
// string, and a map key must be text for every peer.
func decodeMsgpackMap(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, min(n, 64)) // n <= bytes left: checkMsgpack
	for range n {
		c, err := d.PeekCode()
		if err != nil {
			return nil, err
		}
		if !msgpcode.IsString(c) {
			return nil, unconvertible("a msgpack map key that is not a string (code %#x)", c)
		}
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		if m[k], err = d.DecodeInterface(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// msgpackReader decodes elements in place; raw payloads are sub-slices of the
// frame (the decoder reads a bytes.Reader directly, without buffering, so the
// reader's offset is the decoder's).
type msgpackReader struct {
	data []byte
	r    *bytes.Reader
	d    *msgpack.Decoder
	left int
}

var msgpackReaders = sync.Pool{New: func() any {
	r := &msgpackReader{r: bytes.NewReader(nil)}
	r.d = msgpack.NewDecoder(r.r)
	return r
}}

func (*msgpackSerializer) Decode(data []byte) (wamp.Message, error) {
	if err := checkMsgpack(data); err != nil {
		return nil, malformed("not a valid MessagePack value: %v", err)
	}
	mr := msgpackReaders.Get().(*msgpackReader)
	defer func() { mr.data = nil; mr.r.Reset(nil); msgpackReaders.Put(mr) }()
	mr.data = data
	mr.r.Reset(data)
	mr.d.Reset(mr.r)
	mr.d.SetMapDecoder(decodeMsgpackMap)
	n, err := mr.d.DecodeArrayLen()
	if err != nil || n < 0 {
		return nil, malformed("not a MessagePack list: %v", err)
	}
	mr.left = n
	m, err := decodeMessage(mr, n, wamp.EncodingMsgPack)
	if err != nil {
		return nil, err
	}
	if mr.r.Len() != 0 {
		return nil, malformed("%d bytes after the message", mr.r.Len())
	}
	return m, nil
}

func (r *msgpackReader) remaining() int { return r.left }

func (r *msgpackReader) value() (any, error) {
	r.left--
	return r.d.DecodeInterfaceLoose()
}

func (r *msgpackReader) integer() (int64, error) {
	v, err := r.value()
	if err != nil {
		return 0, err
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case uint64:
		if n <= 1<<62 {
			return int64(n), nil
		}
	}
	return 0, fmt.Errorf("want an integer, got %T", v)
}

func (r *msgpackReader) id() (wamp.ID, error) {
	v, err := r.value()
	if err != nil {
		return 0, err
	}
	id, ok := wamp.AsID(v)
	if _, isFloat := v.(float64); !ok || isFloat {
		return 0, fmt.Errorf("want an id in [0, 2^53], got %v", v)
	}
	return id, nil
}

func (r *msgpackReader) str() (string, error) {
	r.left--
	c, err := r.d.PeekCode()
	if err != nil {
		return "", err
	}
	if !msgpcode.IsString(c) {
		return "", fmt.Errorf("want a string, got code %#x", c)
	}
	return r.d.DecodeString()
}

func (r *msgpackReader) dict() (wamp.Dict, error) {
	r.left--
	c, err := r.d.PeekCode()
	if err != nil {
		return nil, err
	}
	if !isMsgpackMap(c) {
		return nil, fmt.Errorf("want a dict, got code %#x", c)
	}
	m, err := msgpackDict(r.d)
	return wamp.Dict(m), err
}

// rawElem returns the next element's bytes without decoding them.
func (r *msgpackReader) rawElem(want func(byte) bool, what string) ([]byte, error) {
	r.left--
	c, err := r.d.PeekCode()
	if err != nil {
		return nil, err
	}
	if !want(c) {
		return nil, fmt.Errorf("want %s, got code %#x", what, c)
	}
	start := len(r.data) - r.r.Len()
	if err := r.d.Skip(); err != nil {
		return nil, err
	}
	return r.data[start : len(r.data)-r.r.Len()], nil
}

func (r *msgpackReader) rawValue() ([]byte, error) {
	return r.rawElem(func(byte) bool { return true }, "a value")
}

func (r *msgpackReader) rawList() ([]byte, error) { return r.rawElem(isMsgpackArray, "Arguments|list") }
func (r *msgpackReader) rawDict() ([]byte, error) { return r.rawElem(isMsgpackMap, "ArgumentsKw|dict") }

func isMsgpackArray(c byte) bool {
	return msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32
}

func isMsgpackMap(c byte) bool {
	return msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32
}

// decodeList, decodeDict and encodeValue implement valueCodec.

func (*msgpackSerializer) decodeValue(raw []byte) (any, error) { return msgpackValue(raw) }

func (*msgpackSerializer) decodeList(raw []byte) ([]any, error) {
	v, err := msgpackValue(raw)
	if err != nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list, got %T", v)
	}
	return l, nil
}

func (*msgpackSerializer) decodeDict(raw []byte) (map[string]any, error) {
	v, err := msgpackValue(raw)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a dict with string keys, got %T", v)
	}
	return m, nil
}

// msgpackValue decodes one application value. It does not use
// vmihailenco/msgpack's loose decoding, which turns bin into string: bin
// must stay []byte. See normalizeMsgpack.
func msgpackValue(raw []byte) (any, error) {
	d := msgpack.NewDecoder(bytes.NewReader(raw))
	d.SetMapDecoder(decodeMsgpackMap)
	v, err := d.DecodeInterface()
	if err != nil {
		return nil, err
	}
	return normalizeMsgpack(v), nil
}

// normalizeMsgpack rewrites a decoded value in place: integers as int64
// (uint64 above its range), floats as float64, JavaScript's undefined as
// nil.
func normalizeMsgpack(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= 1<<63-1 {
			return int64(x)
		}
	case float32:
		return float64(x)
	case jsUndefined:
		return nil
	case []any:
		for i, e := range x {
			x[i] = normalizeMsgpack(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeMsgpack(e)
		}
	}
	return v
}

func (*msgpackSerializer) encodeValue(v any) ([]byte, error) {
	if _, _, err := portable(v, wamp.EncodingMsgPack); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.UseCompactInts(true)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type msgpackWriter struct {
	buf bytes.Buffer
	e   *msgpack.Encoder
	err error
	payloadWriter
}

var msgpackWriters = sync.Pool{New: func() any {
	w := &msgpackWriter{}
	w.e = msgpack.NewEncoder(&w.buf)
	w.e.UseCompactInts(true)
	return w
}}

func (*msgpackSerializer) Encode(m wamp.Message) ([]byte, error) {
	w := msgpackWriters.Get().(*msgpackWriter)
	w.buf.Reset()
	w.err = nil
	w.payloadWriter = payloadWriter{own: wamp.EncodingMsgPack}
	out, err := encodeMessage(w, m)
	if w.buf.Cap() <= maxPooledBuf {
		msgpackWriters.Put(w)
	}
	return out, err
}

func (w *msgpackWriter) keep(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *msgpackWriter) begin(n int)     { w.keep(w.e.EncodeArrayLen(n)) }
func (w *msgpackWriter) id(v wamp.ID)    { w.keep(w.e.EncodeUint(uint64(v))) }
func (w *msgpackWriter) integer(v int64) { w.keep(w.e.EncodeInt(v)) }
func (w *msgpackWriter) str(s string)    { w.keep(w.e.EncodeString(s)) }
func (w *msgpackWriter) raw(b []byte)    { w.buf.Write(b) }

// value writes v, which portable checks: for msgpack it never changes it.
func (w *msgpackWriter) value(v any) error {
	if _, _, err := portable(v, wamp.EncodingMsgPack); err != nil {
		return err
	}
	return w.e.Encode(v)
}

func (w *msgpackWriter) dict(d wamp.Dict) error {
	if d == nil {
		return w.e.EncodeMapLen(0)
	}
	return w.value(map[string]any(d))
}

func (w *msgpackWriter) payload() *payloadWriter { return &w.payloadWriter }

func (w *msgpackWriter) finish() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.buf.Cap() > maxPooledBuf {
		out := w.buf.Bytes()
		w.buf = bytes.Buffer{} // the encoder writes to &w.buf: it follows
		return out, nil
	}
	return bytes.Clone(w.buf.Bytes()), nil
}

func (w *msgpackWriter) grow(n int) { w.buf.Grow(n + 16) }
