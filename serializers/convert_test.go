package serializers

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

// asArgs and asKwargs wrap one encoded item as Arguments|list [item] and
// ArgumentsKw|dict {"k": item} in the encoding of ser.
func asArgs(ser Serializer, item []byte) []byte {
	switch ser {
	case jsonSer:
		return []byte("[" + string(item) + "]")
	case msgpackSer:
		return append([]byte{0x91}, item...)
	}
	return append([]byte{0x81}, item...)
}

func asKwargs(ser Serializer, item []byte) []byte {
	switch ser {
	case jsonSer:
		return []byte(`{"k":` + string(item) + "}")
	case msgpackSer:
		return append([]byte{0x81, 0xa1, 'k'}, item...)
	}
	return append([]byte{0xa1, 0x61, 'k'}, item...)
}

// errorFrame is [ERROR, CALL, 1, {"k": item}, "e"] in ser's encoding.
func errorFrame(ser Serializer, item []byte) []byte {
	switch ser {
	case jsonSer:
		return []byte(`[8,48,1,{"k":` + string(item) + `},"e"]`)
	case msgpackSer:
		return append(append([]byte{0x95, 0x08, 0x30, 0x01, 0x81, 0xa1, 'k'}, item...), 0xa1, 'e')
	}
	return append(append([]byte{0x85, 0x08, 0x18, 0x30, 0x01, 0xa1, 0x61, 'k'}, item...), 0x61, 'e')
}

// unconvertibleCases are values some serializers cannot carry. refused
// lists the other serializers that cannot; in a dict of the header (which
// the router decodes) the value is refused as malformed when badDict, and
// re-encoding it for its own serializer fails too when selfDict.
var unconvertibleCases = []struct {
	name     string
	from     Serializer
	item     []byte
	refused  []Serializer
	reason   string
	badDict  bool
	selfDict bool
}{
	{"msgpack NaN", msgpackSer, []byte{0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, []Serializer{jsonSer}, "NaN is not a JSON number", false, false},
	{"msgpack float32 NaN", msgpackSer, []byte{0xca, 0x7f, 0xc0, 0, 0}, []Serializer{jsonSer}, "NaN is not a JSON number", false, false},
	{"msgpack +Inf", msgpackSer, []byte{0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}, []Serializer{jsonSer}, "+Inf is not a JSON number", false, false},
	{"msgpack -Inf", msgpackSer, []byte{0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0}, []Serializer{jsonSer}, "-Inf is not a JSON number", false, false},
	{"msgpack ext 5", msgpackSer, []byte{0xd4, 0x05, 0x01}, []Serializer{jsonSer, cborSer}, "msgpack extension type 5", true, false},
	{"msgpack timestamp", msgpackSer, []byte{0xd6, 0xff, 0x51, 0x4b, 0x67, 0xb0}, []Serializer{jsonSer, cborSer}, "timestamp", false, true},
	{"msgpack integer key", msgpackSer, []byte{0x81, 0x01, 0x02}, []Serializer{jsonSer, cborSer}, "msgpack map key that is not a string", true, false},
	{"msgpack bin key", msgpackSer, []byte{0x91, 0x81, 0xc4, 0x01, 0xff, 0x02}, []Serializer{jsonSer, cborSer}, "msgpack map key that is not a string (code 0xc4)", true, false},
	{"msgpack nil key", msgpackSer, []byte{0x81, 0xc0, 0x02}, []Serializer{jsonSer, cborSer}, "msgpack map key that is not a string (code 0xc0)", true, false},
	{"cbor NaN", cborSer, []byte{0xf9, 0x7e, 0x00}, []Serializer{jsonSer}, "NaN is not a JSON number", false, false},
	{"cbor +Inf", cborSer, []byte{0xf9, 0x7c, 0x00}, []Serializer{jsonSer}, "+Inf is not a JSON number", false, false},
	{"cbor -Inf", cborSer, []byte{0xfb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0}, []Serializer{jsonSer}, "-Inf is not a JSON number", false, false},
	{"cbor integer key", cborSer, []byte{0xa1, 0x01, 0x02}, []Serializer{jsonSer, msgpackSer}, "CBOR map key that is not a text string", true, false},
	{"cbor nested byte string key", cborSer, []byte{0x81, 0xa1, 0x41, 'k', 0x02}, []Serializer{jsonSer, msgpackSer}, "CBOR map key that is not a text string", true, false},
	{"cbor tag 42", cborSer, []byte{0xd8, 0x2a, 0x01}, []Serializer{jsonSer, msgpackSer}, "CBOR tag 42 has no", false, false},
	{"cbor date tag 1", cborSer, []byte{0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0}, []Serializer{jsonSer, msgpackSer}, "timestamp", false, true},
	{"cbor date tag 0", cborSer, append([]byte{0xc0, 0x74}, "2013-03-21T20:04:00Z"...), []Serializer{jsonSer, msgpackSer}, "timestamp", false, true},
	{"cbor simple value 16", cborSer, []byte{0xf0}, []Serializer{jsonSer, msgpackSer}, "CBOR simple value 16 has no", false, false},
	{"cbor bignum 2^64", cborSer, []byte{0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0}, []Serializer{jsonSer, msgpackSer}, "integer 18446744073709551616 does not fit in 64 bits", false, false},
	{"cbor -2^64", cborSer, []byte{0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []Serializer{jsonSer, msgpackSer}, "integer -18446744073709551616 does not fit", false, false},
	{"msgpack string read as binary", msgpackSer, []byte{0xa5, 0x00, 'A', 'A', 'E', 'C'}, []Serializer{jsonSer}, "would read as binary in JSON", false, false},
	{"cbor string read as binary", cborSer, []byte{0x61, 0x00}, []Serializer{jsonSer}, "would read as binary in JSON", false, false},
	{"json unpaired high surrogate", jsonSer, []byte(`"a\ud800b"`), []Serializer{msgpackSer, cborSer}, "unpaired surrogate", true, false},
	{"json unpaired low surrogate", jsonSer, []byte(`"\udc00"`), []Serializer{msgpackSer, cborSer}, "unpaired surrogate", true, false},
	{"json two high surrogates", jsonSer, []byte(`"\uD834\uD834"`), []Serializer{msgpackSer, cborSer}, "unpaired surrogate", true, false},
	{"json high surrogate at the end", jsonSer, []byte(`"x\ud834"`), []Serializer{msgpackSer, cborSer}, "unpaired surrogate", true, false},
	{"json 1e400", jsonSer, []byte("1e400"), []Serializer{msgpackSer, cborSer}, "number 1e400 is beyond float64", true, false},
	{"json -1e400", jsonSer, []byte("-1e400"), []Serializer{msgpackSer, cborSer}, "number -1e400 is beyond float64", true, false},
	{"json big integer", jsonSer, []byte("123456789012345678901234567890"), []Serializer{msgpackSer, cborSer}, "integer 123456789012345678901234567890 does not fit in 64 bits", true, false},
	{"json integer below int64", jsonSer, []byte("-9223372036854775809"), []Serializer{msgpackSer, cborSer}, "integer -9223372036854775809 does not fit", true, false},
}

// TestUnconvertiblePayload: each value in args and kwargs of a CALL,
// encoded as an INVOCATION for every serializer: refused with
// ErrUnconvertible and a message naming the part, the serializer and the
// value for those that cannot carry it; carried unchanged by the others
// (its own splices the bytes).
func TestUnconvertiblePayload(t *testing.T) {
	t.Parallel()
	for _, c := range unconvertibleCases {
		for _, part := range []string{"args", "kwargs"} {
			p := wamp.Payload{Encoding: c.from.Encoding(), RawArgs: asArgs(c.from, c.item)}
			if part == "kwargs" {
				p = wamp.Payload{Encoding: c.from.Encoding(), RawArgs: emptyList(c.from), RawKwargs: asKwargs(c.from, c.item)}
			}
			frame, err := c.from.Encode(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "p", Payload: p})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			m, err := c.from.Decode(frame)
			if err != nil {
				t.Fatalf("%s %s: decode: %v", c.name, part, err)
			}
			inv := &wamp.Invocation{Request: 1, Registration: 2, Details: wamp.Dict{}, Payload: m.(*wamp.Call).Payload}
			for _, to := range all {
				checkConversion(t, c.name+" "+part, inv, to, slices.Contains(c.refused, to), part, c.reason)
			}
		}
	}
}

func emptyList(ser Serializer) []byte {
	switch ser {
	case jsonSer:
		return []byte("[]")
	case msgpackSer:
		return []byte{0x90}
	}
	return []byte{0x80}
}

// checkConversion encodes m for to: refused as described, or carried.
func checkConversion(t *testing.T, name string, m wamp.Message, to Serializer, refused bool, part, reason string) {
	t.Helper()
	out, err := to.Encode(m)
	if refused {
		if !errors.Is(err, ErrUnconvertible) {
			t.Errorf("%s -> %s: got %v, want ErrUnconvertible", name, to.Name(), err)
			return
		}
		want := "cannot encode " + part + " for " + to.Name() + ": "
		if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, reason) {
			t.Errorf("%s -> %s: message %q, want %q and %q", name, to.Name(), msg, want, reason)
		}
		return
	}
	if err != nil {
		t.Errorf("%s -> %s: %v", name, to.Name(), err)
		return
	}
	back, err := to.Decode(out)
	if err != nil {
		t.Errorf("%s -> %s: cannot decode %x: %v", name, to.Name(), out, err)
		return
	}
	if !sameMessages(m, back) {
		t.Errorf("%s -> %s: changed:\n%#v\n%#v", name, to.Name(), m, back)
	}
}

// TestUnconvertibleDict: the same values in the details of an ERROR (a
// callee's, which the router forwards to the caller): decoded by the router,
// so refused as malformed when no Go value holds them; else refused or
// carried as in payloads.
func TestUnconvertibleDict(t *testing.T) {
	t.Parallel()
	for _, c := range unconvertibleCases {
		m, err := c.from.Decode(errorFrame(c.from, c.item))
		if c.badDict {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: details: got %v, want ErrMalformed", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: details: %v", c.name, err)
		}
		for _, to := range all {
			refused := slices.Contains(c.refused, to) || to == c.from && c.selfDict
			checkConversion(t, c.name+" details", m, to, refused, "details", c.reason)
		}
	}
}

// TestUnconvertibleMessage: the whole text of one error.
func TestUnconvertibleMessage(t *testing.T) {
	t.Parallel()
	p := wamp.Payload{Encoding: wamp.EncodingMsgPack, RawArgs: []byte{0x92, 0x01, 0x81, 0xa1, 'x', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}}
	_, err := jsonSer.Encode(&wamp.Invocation{Request: 1, Registration: 2, Details: wamp.Dict{}, Payload: p})
	const want = `serializers: encoding INVOCATION: cannot encode args for json: NaN is not a JSON number (at [1]["x"])`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// TestUnconvertibleJSONMessage: where in a JSON payload the number is.
func TestUnconvertibleJSONMessage(t *testing.T) {
	t.Parallel()
	m, err := jsonSer.Decode([]byte(`[70,1,{},[1,{"a":[2,1e400]}]]`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cborSer.Encode(m)
	const want = `serializers: encoding YIELD: cannot encode args for cbor: number 1e400 is beyond float64 (at [1]["a"][1])`
	if !errors.Is(err, ErrUnconvertible) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// TestUnconvertibleValues: Go values (the router's, a client's) that the
// encoding cannot carry, through Encode and EncodePayload, and a
// transparent payload (payload passthru mode).
func TestUnconvertibleValues(t *testing.T) {
	t.Parallel()
	for _, v := range []any{math.NaN(), math.Inf(1), float32(math.Inf(-1)), map[string]any{"a": []any{math.NaN()}}} {
		_, err := jsonSer.Encode(&wamp.Event{Subscription: 1, Publication: 2, Details: wamp.Dict{}, Payload: wamp.Values([]any{v}, nil)})
		if !errors.Is(err, ErrUnconvertible) || !strings.Contains(err.Error(), "cannot encode args for json") {
			t.Errorf("Encode %v: %v", v, err)
		}
		_, err = EncodePayload(wamp.EncodingJSON, nil, map[string]any{"v": v})
		if !errors.Is(err, ErrUnconvertible) || !strings.Contains(err.Error(), "cannot encode kwargs for json") {
			t.Errorf("EncodePayload %v: %v", v, err)
		}
	}
	// PUBLISH in payload passthru mode, from msgpack: the payload is NaN.
	frame := []byte{0x95, 0x10, 0x01, 0x81, 0xaa, 'p', 'p', 't', '_', 's', 'c', 'h', 'e', 'm', 'e', 0xa1, 'x', 0xa1, 't', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}
	m, err := msgpackSer.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	pub := m.(*wamp.Publish)
	ev := &wamp.Event{Subscription: 1, Publication: 2, Details: wamp.Dict{"ppt_scheme": "x"}, Payload: pub.Payload}
	checkConversion(t, "transparent NaN", ev, jsonSer, true, "payload", "NaN is not a JSON number")
	checkConversion(t, "transparent NaN", ev, cborSer, false, "", "")
}

// losslessArgs and losslessKwargs are values every serializer carries: they
// must come back the same through any pair.
var (
	losslessArgs = []any{
		int64(math.MinInt64), int64(math.MaxInt64), uint64(math.MaxUint64), int64(1<<53 + 1), int64(-1), int64(0),
		0.1, -2.5, 1e308, math.MaxFloat64, math.SmallestNonzeroFloat64, 1e20, -1e-300,
		27233566358816968.0, -1.2345678901234567e19, 1 << 53, // JSON writes these with an exponent
		"", "ünïcode ✓ 𝄞 日本語", "\x00 not base64!", "tab\tquote\"backslash\\nul\x00ctl\x01",
		[]byte{0, 1, 255}, []byte{}, []byte("\x00AAEC"),
		true, false, nil,
		[]any{[]any{[]any{}}, map[string]any{}}, map[string]any{"a": map[string]any{"b": []any{int64(1), "x", []byte{7}}}},
	}
	losslessKwargs = map[string]any{"ü✓": "日本語", "bin": []byte("\x00raw"), "neg": int64(math.MinInt64), "": nil, "deep": []any{map[string]any{"f": 0.5}}}
)

// TestLosslessConversion: through every pair of serializers, args and
// kwargs, args alone, and kwargs with empty args come back the same.
func TestLosslessConversion(t *testing.T) {
	t.Parallel()
	payloads := []struct {
		name   string
		args   []any
		kwargs map[string]any
	}{
		{"args and kwargs", losslessArgs, losslessKwargs},
		{"args", losslessArgs, nil},
		{"kwargs, empty args", []any{}, losslessKwargs},
	}
	for _, from := range all {
		for _, pl := range payloads {
			p, err := EncodePayload(from.Encoding(), pl.args, pl.kwargs)
			if err != nil {
				t.Fatalf("%s: %v", from.Name(), err)
			}
			frame, err := from.Encode(&wamp.Call{Request: 1, Options: wamp.Dict{"k": pl.kwargs}, Procedure: "p", Payload: p})
			if err != nil {
				t.Fatalf("%s: %v", from.Name(), err)
			}
			m, err := from.Decode(frame)
			if err != nil {
				t.Fatalf("%s %s: %v", from.Name(), pl.name, err)
			}
			for _, to := range all {
				out, err := to.Encode(m)
				if err != nil {
					t.Fatalf("%s -> %s %s: %v", from.Name(), to.Name(), pl.name, err)
				}
				back, err := to.Decode(out)
				if err != nil {
					t.Fatalf("%s -> %s %s: %v", from.Name(), to.Name(), pl.name, err)
				}
				args, kwargs, err := DecodePayload(wamp.PayloadOf(back))
				if err != nil {
					t.Fatal(err)
				}
				if !sameValue(args, pl.args) || !sameMap(kwargs, pl.kwargs) && len(pl.kwargs) > 0 {
					t.Errorf("%s -> %s %s:\n got %#v %#v\nwant %#v %#v", from.Name(), to.Name(), pl.name, args, kwargs, pl.args, pl.kwargs)
				}
				if o := back.(*wamp.Call).Options; len(pl.kwargs) > 0 && !sameValue(o["k"], pl.kwargs) {
					t.Errorf("%s -> %s options: got %#v", from.Name(), to.Name(), o)
				}
			}
		}
	}
}

// TestLosslessFromWire: values only one encoding writes (a msgpack
// float32, CBOR half floats, a small bignum, undefined, -2^63 as a CBOR
// negative integer, indefinite lengths) convert to what they mean.
func TestLosslessFromWire(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from Serializer
		item []byte
		want any
	}{
		{msgpackSer, []byte{0xca, 0x3f, 0x00, 0x00, 0x00}, 0.5},
		{msgpackSer, []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint64(math.MaxUint64)},
		{msgpackSer, []byte{0xd4, 0x00, 0x00}, nil},
		{msgpackSer, []byte{0xc4, 0x02, 0x00, 0xff}, []byte{0, 0xff}},
		{cborSer, []byte{0xf9, 0x3c, 0x00}, 1.0},
		{cborSer, []byte{0xf9, 0x00, 0x01}, 5.960464477539063e-08},
		{cborSer, []byte{0xc2, 0x41, 0x05}, int64(5)},
		{cborSer, []byte{0xc3, 0x41, 0x05}, int64(-6)},
		{cborSer, []byte{0xf7}, nil},
		{cborSer, []byte{0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, int64(math.MinInt64)},
		{cborSer, []byte{0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint64(math.MaxUint64)},
		{cborSer, []byte{0x9f, 0x01, 0x7f, 0x61, 'a', 0x61, 'b', 0xff, 0xff}, []any{int64(1), "ab"}},
		{cborSer, []byte{0x5f, 0x41, 0x01, 0x41, 0x02, 0xff}, []byte{1, 2}},
		{jsonSer, []byte(`"\u0000AAEC"`), []byte{0, 1, 2}},
		{jsonSer, []byte(`"\ud834\udd1e"`), "𝄞"},
		{jsonSer, []byte(`"\uD834\uDD1E \\ud800 \ufffd �"`), "𝄞 \\ud800 \ufffd \ufffd"},
		{jsonSer, []byte(`18446744073709551615`), uint64(math.MaxUint64)},
		{jsonSer, []byte(`100000000000000000000`), 1e20},
		{jsonSer, []byte(`123456789012345680000`), 123456789012345680000.0}, // JSON.stringify of that float64
		{jsonSer, []byte(`18446744073709551616`), 18446744073709551616.0},   // 2^64, exactly a float64
		{jsonSer, []byte(`1.5e3`), 1500.0},
	} {
		p := wamp.Payload{Encoding: c.from.Encoding(), RawArgs: asArgs(c.from, c.item)}
		for _, to := range all {
			out, err := to.Encode(&wamp.Invocation{Request: 1, Registration: 2, Details: wamp.Dict{}, Payload: p})
			if err != nil {
				t.Errorf("%s %x -> %s: %v", c.from.Name(), c.item, to.Name(), err)
				continue
			}
			back, err := to.Decode(out)
			if err != nil {
				t.Fatalf("%s %x -> %s: %v", c.from.Name(), c.item, to.Name(), err)
			}
			args, _, err := DecodePayload(wamp.PayloadOf(back))
			if err != nil || len(args) != 1 || !sameValue(args[0], c.want) {
				t.Errorf("%s %x -> %s: got %#v (%v), want %#v", c.from.Name(), c.item, to.Name(), args, err, c.want)
			}
		}
	}
}
