package serializers

import (
	"fmt"
	"math/big"
	"reflect"
	"sync"

	"github.com/fxamacker/cbor/v2"

	"github.com/junction-wamp/junction/wamp"
)

// cborSerializer is wamp.2.cbor: binary frames, fxamacker/cbor/v2.
type cborSerializer struct{}

var _ Serializer = (*cborSerializer)(nil)

var (
	// cborDec's bounds are its library's defaults, written out (see
	// maxCBORNesting): config.toml promises them. A container declaring
	// more elements than these is refused before anything is allocated for
	// it (valid.go, wellformedInternal); splitCBORList refuses it first.
	cborDec = mustDecMode(cbor.DecOptions{
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		MaxNestedLevels:  maxCBORNesting,
		MaxArrayElements: maxCBORElements,
		MaxMapPairs:      maxCBORPairs,
	})
	cborEnc = mustEncMode(cbor.EncOptions{})
)

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

func (*cborSerializer) Name() string            { return "cbor" }
func (*cborSerializer) Subprotocol() string     { return "wamp.2.cbor" }
func (*cborSerializer) Binary() bool            { return true }
func (*cborSerializer) Encoding() wamp.Encoding { return wamp.EncodingCBOR }

// Decode splits the frame with splitCBORList, which checks all of it
// (payloads are not decoded, so fxamacker/cbor never reads them), then
// decodes the elements of the header one by one.
func (*cborSerializer) Decode(data []byte) (wamp.Message, error) {
	elems, n, err := splitCBORList(data)
	if err != nil {
		return nil, malformed("not a valid CBOR list: %v", err)
	}
	return decodeMessage(&cborReader{elems: elems}, n, wamp.EncodingCBOR)
}

type cborReader struct {
	elems []cbor.RawMessage
	i     int
}

func (r *cborReader) remaining() int { return len(r.elems) - r.i }

func (r *cborReader) next() cbor.RawMessage {
	e := r.elems[r.i]
	r.i++
	return e
}

// major returns the CBOR major type of an encoded item.
func major(e []byte) byte {
	if len(e) == 0 {
		return 0xff
	}
	return e[0] >> 5
}

func (r *cborReader) integer() (int64, error) {
	e := r.next()
	var v any
	if m := major(e); m > 1 || cborDec.Unmarshal(e, &v) != nil {
		return 0, fmt.Errorf("want an integer")
	}
	n, ok := wamp.AsInt(v)
	if !ok {
		return 0, fmt.Errorf("want an integer, got %v", v)
	}
	return n, nil
}

func (r *cborReader) id() (wamp.ID, error) {
	e := r.next()
	var v uint64
	if major(e) != 0 || cborDec.Unmarshal(e, &v) != nil || v > uint64(wamp.MaxID) {
		return 0, fmt.Errorf("want an id in [0, 2^53]")
	}
	return wamp.ID(v), nil
}

func (r *cborReader) str() (string, error) {
	e := r.next()
	var s string
	if major(e) != 3 || cborDec.Unmarshal(e, &s) != nil {
		return "", fmt.Errorf("want a string")
	}
	return s, nil
}

func (r *cborReader) dict() (wamp.Dict, error) {
	e := r.next()
	if major(e) != 5 {
		return nil, fmt.Errorf("want a dict")
	}
	m, err := cborSer.decodeDict(e)
	return wamp.Dict(m), err
}

func (r *cborReader) rawValue() ([]byte, error) { return r.next(), nil }

func (r *cborReader) rawList() ([]byte, error) {
	e := r.next()
	if major(e) != 4 {
		return nil, fmt.Errorf("want Arguments|list")
	}
	return e, nil
}

func (r *cborReader) rawDict() ([]byte, error) {
	e := r.next()
	if major(e) != 5 {
		return nil, fmt.Errorf("want ArgumentsKw|dict")
	}
	return e, nil
}

// decodeList, decodeDict and encodeValue implement valueCodec.

func (*cborSerializer) decodeValue(raw []byte) (any, error) {
	var v any
	err := cborDec.Unmarshal(raw, &v)
	return normalizeCBOR(v), err
}

func (*cborSerializer) decodeList(raw []byte) ([]any, error) {
	var v []any
	err := cborDec.Unmarshal(raw, &v)
	normalizeCBOR(v)
	return v, err
}

func (*cborSerializer) decodeDict(raw []byte) (map[string]any, error) {
	var v map[string]any
	err := cborDec.Unmarshal(raw, &v)
	normalizeCBOR(v)
	return v, err
}

// normalizeCBOR rewrites in place the integers that the decoder returns as
// big.Int although they fit in 64 bits (bignums, tags 2 and 3, of small
// values: RFC 8949 section 3.4.3 makes them the same numbers) as int64, or
// uint64 above its range.
func normalizeCBOR(v any) any {
	switch x := v.(type) {
	case big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		if x.IsUint64() {
			return x.Uint64()
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeCBOR(e)
		}
	case map[string]any:
		for k, e := range x {
			switch e.(type) {
			case big.Int, []any, map[string]any:
				x[k] = normalizeCBOR(e)
			}
		}
	}
	return v
}

func (*cborSerializer) encodeValue(v any) ([]byte, error) {
	if _, _, err := portable(v, wamp.EncodingCBOR); err != nil {
		return nil, err
	}
	return cborEnc.Marshal(v)
}

// cborWriter collects the elements, raw payloads as cbor.RawMessage, and
// marshals the list once.
type cborWriter struct {
	elems []any
	size  int // payload bytes announced by grow
	payloadWriter
}

var cborWriters = sync.Pool{New: func() any { return &cborWriter{} }}

func (*cborSerializer) Encode(m wamp.Message) ([]byte, error) {
	w := cborWriters.Get().(*cborWriter)
	w.elems = w.elems[:0]
	w.size = 0
	w.payloadWriter = payloadWriter{own: wamp.EncodingCBOR}
	out, err := encodeMessage(w, m)
	clear(w.elems)
	cborWriters.Put(w)
	return out, err
}

func (w *cborWriter) begin(int)       {}
func (w *cborWriter) id(v wamp.ID)    { w.elems = append(w.elems, uint64(v)) }
func (w *cborWriter) integer(v int64) { w.elems = append(w.elems, v) }
func (w *cborWriter) str(s string)    { w.elems = append(w.elems, s) }

func (w *cborWriter) dict(d wamp.Dict) error {
	if d == nil {
		d = wamp.Dict{}
	}
	return w.value(map[string]any(d))
}

func (w *cborWriter) payload() *payloadWriter { return &w.payloadWriter }
func (w *cborWriter) raw(b []byte)            { w.elems = append(w.elems, cbor.RawMessage(b)) }

// value keeps v for finish, which portable checks: for CBOR it never
// changes it.
func (w *cborWriter) value(v any) error {
	if _, _, err := portable(v, wamp.EncodingCBOR); err != nil {
		return err
	}
	w.elems = append(w.elems, v)
	return nil
}

// finish writes the list: a CBOR array header, then each element; raw
// payloads are appended as they are (the encoder would re-validate them, and
// passthrough means forwarding what the peer sent).
func (w *cborWriter) grow(n int) { w.size += n }

func (w *cborWriter) finish() ([]byte, error) {
	n := len(w.elems)
	out := make([]byte, 0, w.size+64)
	switch {
	case n < 24:
		out = append(out, 0x80|byte(n))
	default: // messages have at most 7 elements
		return nil, fmt.Errorf("serializers: %d elements in a message", n)
	}
	for _, e := range w.elems {
		if raw, ok := e.(cbor.RawMessage); ok {
			out = append(out, raw...)
			continue
		}
		b, err := cborEnc.Marshal(e)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}
