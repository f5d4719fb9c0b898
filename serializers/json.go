package serializers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/junction-wamp/junction/wamp"
)

// jsonSerializer is wamp.2.json: text frames, encoding/json.
type jsonSerializer struct{}

var _ Serializer = (*jsonSerializer)(nil)

func (*jsonSerializer) Name() string            { return "json" }
func (*jsonSerializer) Subprotocol() string     { return "wamp.2.json" }
func (*jsonSerializer) Binary() bool            { return false }
func (*jsonSerializer) Encoding() wamp.Encoding { return wamp.EncodingJSON }

// Decode refuses a frame that is not UTF-8 anywhere (RFC 8259 section 8.1):
// neither gjson nor encoding/json checks it, and a transport that does not
// (RawSocket, unlike a WebSocket text frame) would otherwise let payloads
// that are not text reach JSON peers unchanged.
func (*jsonSerializer) Decode(data []byte) (wamp.Message, error) {
	if !utf8.Valid(data) {
		return nil, malformed("not UTF-8")
	}
	elems, err := splitJSONList(data)
	if err != nil {
		return nil, err
	}
	return decodeMessage(&jsonReader{elems: elems}, len(elems), wamp.EncodingJSON)
}

// maxJSONNesting is how deep the fast path lets a message nest; it is
// encoding/json's own limit.
const maxJSONNesting = 10000

// splitJSONList checks that data is one valid JSON value, a list, and
// returns its elements as slices of data (at most 8: a message has no more
// than 7, and decodeMessage refuses the rest).
//
// gjson validates and splits a message in a pass each over the bytes, about
// ten times faster than encoding/json, which scans a large payload two or
// three times on its way to a json.RawMessage. gjson validates by recursive
// descent, so a message that could nest deeper than maxJSONNesting (it has
// more brackets than that) goes to encoding/json instead, which refuses deep
// nesting itself: no message can grow a goroutine's stack without bound.
func splitJSONList(data []byte) ([]json.RawMessage, error) {
	if bytes.Count(data, []byte("[")) > maxJSONNesting/2 || bytes.Count(data, []byte("{")) > maxJSONNesting/2 {
		elems := make([]json.RawMessage, 0, 7)
		if err := json.Unmarshal(data, &elems); err != nil {
			return nil, malformed("not a JSON list: %v", err)
		}
		return elems, nil
	}
	if !gjson.ValidBytes(data) {
		return nil, malformed("not a JSON list: invalid JSON")
	}
	list := bytes.TrimLeft(data, " \t\r\n") // not empty: data is valid JSON
	// gjson reads strings. A read-only view of the frame saves copying the
	// whole message (its payload included) once more: the view does not
	// outlive this function, as the elements are taken from list by index.
	root := gjson.Result{Type: gjson.JSON, Raw: unsafe.String(unsafe.SliceData(list), len(list))}
	if !root.IsArray() {
		return nil, malformed("not a JSON list")
	}
	elems := make([]json.RawMessage, 0, 7)
	root.ForEach(func(_, v gjson.Result) bool {
		end := v.Index + len(v.Raw)
		elems = append(elems, json.RawMessage(list[v.Index:end:end]))
		return len(elems) <= 7
	})
	return elems, nil
}

var jsonWriters = sync.Pool{New: func() any { return &jsonWriter{} }}

func (*jsonSerializer) Encode(m wamp.Message) ([]byte, error) {
	w := jsonWriters.Get().(*jsonWriter)
	w.reset()
	out, err := encodeMessage(w, m)
	if cap(w.buf) <= maxPooledBuf {
		jsonWriters.Put(w)
	}
	return out, err
}

type jsonReader struct {
	elems []json.RawMessage
	i     int
}

func (r *jsonReader) remaining() int { return len(r.elems) - r.i }

func (r *jsonReader) next() json.RawMessage {
	e := r.elems[r.i]
	r.i++
	return e
}

func (r *jsonReader) integer() (int64, error) {
	e := r.next()
	v, err := strconv.ParseInt(string(e), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %.20s", e)
	}
	return v, nil
}

func (r *jsonReader) id() (wamp.ID, error) {
	e := r.next()
	v, err := strconv.ParseUint(string(e), 10, 64)
	if err != nil || v > uint64(wamp.MaxID) {
		return 0, fmt.Errorf("want an id in [0, 2^53], got %.20s", e)
	}
	return wamp.ID(v), nil
}

func (r *jsonReader) str() (string, error) {
	e := r.next()
	if s, ok := plainJSONString(e); ok {
		return s, nil
	}
	var s string
	if len(e) == 0 || e[0] != '"' || json.Unmarshal(e, &s) != nil {
		return "", fmt.Errorf("want a string, got %.20s", e)
	}
	return s, nil
}

func (r *jsonReader) dict() (wamp.Dict, error) {
	e := r.next()
	if len(e) == 0 || e[0] != '{' {
		return nil, fmt.Errorf("want a dict, got %.20s", e)
	}
	if len(e) == 2 { // {}: the usual options and details; json.RawMessage is compact
		return wamp.Dict{}, nil
	}
	m, err := jsonSer.decodeDict(e)
	return wamp.Dict(m), err
}

func (r *jsonReader) rawList() ([]byte, error) {
	e := r.next()
	if len(e) == 0 || e[0] != '[' {
		return nil, fmt.Errorf("want Arguments|list, got %.20s", e)
	}
	return e, nil
}

func (r *jsonReader) rawValue() ([]byte, error) { return r.next(), nil }

func (r *jsonReader) rawDict() ([]byte, error) {
	e := r.next()
	if len(e) == 0 || e[0] != '{' {
		return nil, fmt.Errorf("want ArgumentsKw|dict, got %.20s", e)
	}
	return e, nil
}

// plainJSONString returns the string a JSON string literal holds when it
// needs no unescaping (no backslash, no control character, valid UTF-8),
// which URIs and most strings in a message's header are, without a trip
// through encoding/json.
func plainJSONString(e []byte) (string, bool) {
	if len(e) < 2 || e[0] != '"' || e[len(e)-1] != '"' {
		return "", false
	}
	body := e[1 : len(e)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			return "", false
		}
	}
	return string(body), true
}

// decodeList, decodeDict and encodeValue implement valueCodec.

func (*jsonSerializer) decodeValue(raw []byte) (any, error) {
	r, err := parseJSON(raw)
	if err != nil {
		return nil, err
	}
	return jsonValue(r)
}

func (*jsonSerializer) decodeList(raw []byte) ([]any, error) {
	r, err := parseJSON(raw)
	if err != nil {
		return nil, err
	}
	if !r.IsArray() {
		return nil, fmt.Errorf("want a list, got %.20s", raw)
	}
	return jsonList(r)
}

func (*jsonSerializer) decodeDict(raw []byte) (map[string]any, error) {
	r, err := parseJSON(raw)
	if err != nil {
		return nil, err
	}
	if !r.IsObject() {
		return nil, fmt.Errorf("want a dict, got %.20s", raw)
	}
	return jsonDict(r)
}

// parseJSON checks raw (one JSON value) and returns it for the jsonValue
// walk. Values nesting deeper than maxJSONNesting could be are refused,
// as encoding/json refuses them.
func parseJSON(raw []byte) (gjson.Result, error) {
	if bytes.Count(raw, []byte("[")) > maxJSONNesting/2 || bytes.Count(raw, []byte("{")) > maxJSONNesting/2 {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil { // the nesting limit, or invalid
			return gjson.Result{}, err
		}
	}
	if !gjson.ValidBytes(raw) {
		return gjson.Result{}, fmt.Errorf("invalid JSON %.20q", raw)
	}
	return gjson.ParseBytes(raw), nil
}

// jsonValue turns a checked JSON value into Go values: numbers as
// jsonNumber does, strings as string or, with WAMP's binary convention
// ("\u0000" + base64), []byte.
func jsonValue(r gjson.Result) (any, error) {
	switch r.Type {
	case gjson.Null:
		return nil, nil
	case gjson.False:
		return false, nil
	case gjson.True:
		return true, nil
	case gjson.String:
		// gjson, like encoding/json, reads an unpaired surrogate escape
		// ("\ud800", valid JSON but not text) as U+FFFD.
		if strings.Contains(r.Str, "\uFFFD") && unpairedSurrogate(r.Raw) {
			return nil, unconvertible("a JSON string with an unpaired surrogate (%.20s) is not text", r.Raw)
		}
		return fromJSONString(r.Str), nil
	case gjson.Number:
		return jsonNumber(r.Raw)
	}
	if r.IsArray() {
		return jsonList(r)
	}
	return jsonDict(r)
}

// jsonNumber turns a JSON number into int64, uint64 above int64's range, or
// float64. A number that float64 cannot hold is refused (ErrUnconvertible),
// as no other serializer could carry it: one beyond float64's range
// (1e400), or an integer literal beyond 64 bits that is neither exactly a
// float64 nor the shortest form of one, which is what encoders of float64s
// (JavaScript's JSON.stringify, encoding/json) write. A fraction or an
// exponent is rounded to the nearest float64, as every JSON reader does.
//
// Such a number still reaches JSON peers as it came: a payload is spliced
// between peers of the same serializer without being decoded, and it is
// valid JSON. Only converting it to msgpack or CBOR fails (and a dict of a
// message's header holding one is refused, as the router decodes those).
func jsonNumber(raw string) (any, error) {
	if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return i, nil
	}
	if u, err := strconv.ParseUint(raw, 10, 64); err == nil {
		return u, nil
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return nil, unconvertible("number %.40s is beyond float64", raw)
	}
	if strings.ContainsAny(raw, ".eE") || strconv.FormatFloat(f, 'f', -1, 64) == raw {
		return f, nil
	}
	exact, _ := new(big.Float).SetFloat64(f).Int(nil)
	if lit, ok := new(big.Int).SetString(raw, 10); ok && exact.Cmp(lit) == 0 {
		return f, nil
	}
	return nil, unconvertible("integer %.40s does not fit in 64 bits nor in a float64", raw)
}

// unpairedSurrogate reports whether the JSON string literal raw escapes a
// UTF-16 surrogate that is not half of a pair.
func unpairedSurrogate(raw string) bool {
	for i := 0; i < len(raw)-1; i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if raw[i] != 'u' || i+4 >= len(raw) {
			continue
		}
		r := hexRune(raw[i+1 : i+5])
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r >= 0xdc00 || i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
			return true // a low half first, or a high half alone
		}
		if low := hexRune(raw[i+3 : i+7]); low < 0xdc00 || low > 0xdfff {
			return true
		}
		i += 6
	}
	return false
}

func hexRune(h string) rune {
	v, err := strconv.ParseUint(h, 16, 16)
	if err != nil {
		return -1
	}
	return rune(v)
}

func jsonList(r gjson.Result) ([]any, error) {
	l := []any{}
	var err error
	r.ForEach(func(_, e gjson.Result) bool {
		var v any
		if v, err = jsonValue(e); err != nil {
			err = within(err, "["+strconv.Itoa(len(l))+"]")
			return false
		}
		l = append(l, v)
		return true
	})
	return l, err
}

func jsonDict(r gjson.Result) (map[string]any, error) {
	d := map[string]any{}
	var err error
	r.ForEach(func(k, e gjson.Result) bool {
		var v any
		if v, err = jsonValue(e); err != nil {
			err = within(err, "["+strconv.Quote(k.Str)+"]")
			return false
		}
		d[k.Str] = v
		return true
	})
	return d, err
}

func (*jsonSerializer) encodeValue(v any) ([]byte, error) {
	p, _, err := portable(v, wamp.EncodingJSON)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := jsonMarshalTo(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonMarshalTo appends the compact JSON of v to buf, without HTML escaping.
func jsonMarshalTo(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

type jsonWriter struct {
	buf []byte
	n   int
	tmp bytes.Buffer
	payloadWriter
}

func (w *jsonWriter) reset() {
	w.buf = w.buf[:0]
	w.n = 0
	w.payloadWriter = payloadWriter{own: wamp.EncodingJSON}
}

func (w *jsonWriter) sep() {
	if w.n > 0 {
		w.buf = append(w.buf, ',')
	}
	w.n++
}

func (w *jsonWriter) begin(int)               { w.buf = append(w.buf, '[') }
func (w *jsonWriter) id(v wamp.ID)            { w.sep(); w.buf = strconv.AppendUint(w.buf, uint64(v), 10) }
func (w *jsonWriter) integer(v int64)         { w.sep(); w.buf = strconv.AppendInt(w.buf, v, 10) }
func (w *jsonWriter) str(s string)            { w.sep(); w.buf = appendJSONString(w.buf, s) }
func (w *jsonWriter) raw(b []byte)            { w.sep(); w.buf = append(w.buf, b...) }
func (w *jsonWriter) payload() *payloadWriter { return &w.payloadWriter }
func (w *jsonWriter) grow(n int)              { w.buf = slices.Grow(w.buf, n+16) }
func (w *jsonWriter) finish() ([]byte, error) {
	w.buf = append(w.buf, ']')
	return finishBuf(&w.buf), nil
}

// finishBuf returns the encoded message in *buf: a copy when the buffer is
// small enough to go back to the writer pool, else the buffer itself,
// which the writer gives up (a large payload is then copied only once).
func finishBuf(buf *[]byte) []byte {
	if cap(*buf) > maxPooledBuf {
		out := *buf
		*buf = nil
		return out
	}
	return bytes.Clone(*buf)
}

// maxPooledBuf is the largest buffer an encoder keeps in its pool.
const maxPooledBuf = 64 << 10

func (w *jsonWriter) value(v any) error {
	p, _, err := portable(v, wamp.EncodingJSON)
	if err != nil {
		return err
	}
	w.tmp.Reset()
	if err := jsonMarshalTo(&w.tmp, p); err != nil {
		return err
	}
	w.raw(w.tmp.Bytes())
	return nil
}

func (w *jsonWriter) dict(d wamp.Dict) error {
	if len(d) == 0 {
		w.raw([]byte("{}"))
		return nil
	}
	return w.value(map[string]any(d))
}

// appendJSONString appends s as a JSON string. Valid UTF-8 is copied as is
// (only quotes, backslashes and control characters are escaped); anything
// else goes through encoding/json, which replaces invalid bytes.
func appendJSONString(buf []byte, s string) []byte {
	if !utf8.ValidString(s) {
		b, _ := json.Marshal(s)
		return append(buf, b...)
	}
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
