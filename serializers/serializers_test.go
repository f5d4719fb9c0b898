package serializers

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

// messages is one message of every type, with and without payloads.
func messages() []wamp.Message {
	d := wamp.Dict{"k": "v", "n": int64(3), "nested": map[string]any{"list": []any{int64(1), "two"}}}
	pl := wamp.Values([]any{int64(1), "ünïcode ✓", []byte{0, 1, 255}, 2.5, nil, true, []any{"x"}, map[string]any{"m": int64(-7)}},
		map[string]any{"key": "value", "bin": []byte("\x00raw")})
	args := wamp.Values([]any{"only args"}, nil)
	big := wamp.MaxID
	return []wamp.Message{
		&wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": map[string]any{"caller": map[string]any{}}}},
		&wamp.Welcome{Session: big, Details: d},
		&wamp.Abort{Details: wamp.Dict{"message": "no"}, Reason: wamp.ErrNoSuchRealm},
		&wamp.Challenge{AuthMethod: "wampcra", Extra: d},
		&wamp.Authenticate{Signature: "sig", Extra: wamp.Dict{}},
		&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal},
		&wamp.Error{Type: wamp.CALL, Request: 1, Details: wamp.Dict{}, Error: "com.example.error"},
		&wamp.Error{Type: wamp.INVOCATION, Request: big, Details: d, Error: "com.example.error", Payload: pl},
		&wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true}, Topic: "com.example.t"},
		&wamp.Publish{Request: 2, Options: wamp.Dict{}, Topic: "com.example.t", Payload: args},
		&wamp.Publish{Request: 2, Options: wamp.Dict{}, Topic: "com.example.t", Payload: pl},
		&wamp.Published{Request: 3, Publication: big},
		&wamp.Subscribe{Request: 4, Options: wamp.Dict{"match": "prefix"}, Topic: "com.example"},
		&wamp.Subscribed{Request: 4, Subscription: 5},
		&wamp.Unsubscribe{Request: 6, Subscription: 5},
		&wamp.Unsubscribed{Request: 6},
		&wamp.Unsubscribed{Request: 6, Details: wamp.Dict{"reason": "revoked"}},
		&wamp.Event{Subscription: 5, Publication: 7, Details: wamp.Dict{}, Payload: pl},
		&wamp.Event{Subscription: 5, Publication: 7, Details: wamp.Dict{"topic": "a.b"}},
		&wamp.Call{Request: 8, Options: wamp.Dict{}, Procedure: "com.example.p", Payload: pl},
		&wamp.Call{Request: 8, Options: wamp.Dict{}, Procedure: "com.example.p", Payload: wamp.Values(nil, map[string]any{"kw": "only"})},
		&wamp.Cancel{Request: 8, Options: wamp.Dict{"mode": "kill"}},
		&wamp.Result{Request: 8, Details: wamp.Dict{}, Payload: pl},
		&wamp.Result{Request: 8, Details: wamp.Dict{"progress": true}},
		&wamp.Register{Request: 9, Options: wamp.Dict{}, Procedure: "com.example.p"},
		&wamp.Registered{Request: 9, Registration: 10},
		&wamp.Unregister{Request: 11, Registration: 10},
		&wamp.Unregistered{Request: 11},
		&wamp.Invocation{Request: 12, Registration: 10, Details: wamp.Dict{}, Payload: pl},
		&wamp.Interrupt{Request: 12, Options: wamp.Dict{"mode": "killnowait"}},
		&wamp.Yield{Request: 12, Options: wamp.Dict{}, Payload: args},
		&wamp.EventReceived{Publication: 7},
	}
}

// sameMessage compares two messages by their attributes and payload values.
func sameMessage(t *testing.T, a, b wamp.Message) bool {
	t.Helper()
	return reflect.DeepEqual(canonical(t, attrsWithBinary(t, a)), canonical(t, attrsWithBinary(t, b)))
}

func attrsWithBinary(t *testing.T, m wamp.Message) map[string]any {
	a := attributes(t, m)
	if l, ok := a["args"].([]any); ok && len(l) == 0 {
		a["args"] = nil // [] and absent args are the same on the wire when kwargs follow
	}
	// canonical() would turn []byte into base64; keep binary distinct from strings.
	a["args"] = markBinary(a["args"])
	a["kwargs"] = markBinary(a["kwargs"])
	return a
}

func markBinary(v any) any {
	switch x := v.(type) {
	case []byte:
		return map[string]any{"binary": fmt.Sprintf("%x", x)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = markBinary(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = markBinary(e)
		}
		return out
	}
	return v
}

func TestRoundTripAndCrossCodec(t *testing.T) {
	t.Parallel()
	for _, from := range all {
		for _, to := range all {
			for _, m := range messages() {
				data, err := from.Encode(m)
				if err != nil {
					t.Fatalf("%s encode %s: %v", from.Name(), m.MessageType(), err)
				}
				decoded, err := from.Decode(data)
				if err != nil {
					t.Fatalf("%s decode %s %q: %v", from.Name(), m.MessageType(), data, err)
				}
				if !sameMessage(t, m, decoded) {
					t.Fatalf("%s round trip of %s changed it:\n%v\n%v", from.Name(), m.MessageType(), attributes(t, m), attributes(t, decoded))
				}
				// Transcode: the message decoded from one codec, encoded with another.
				data2, err := to.Encode(decoded)
				if err != nil {
					t.Fatalf("%s->%s encode %s: %v", from.Name(), to.Name(), m.MessageType(), err)
				}
				decoded2, err := to.Decode(data2)
				if err != nil {
					t.Fatalf("%s->%s decode %s: %v", from.Name(), to.Name(), m.MessageType(), err)
				}
				if !sameMessage(t, m, decoded2) {
					t.Fatalf("%s->%s changed %s:\n%v\n%v", from.Name(), to.Name(), m.MessageType(), attributes(t, m), attributes(t, decoded2))
				}
			}
		}
	}
}

// TestPassthrough: a payload decoded from a frame is spliced byte for byte
// into a frame of the same serializer.
func TestPassthrough(t *testing.T) {
	t.Parallel()
	for _, ser := range all {
		p, err := EncodePayload(ser.Encoding(), []any{int64(42), "hello", []byte{1, 2}}, map[string]any{"a": int64(1)})
		if err != nil {
			t.Fatal(err)
		}
		call, _ := ser.Encode(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "p", Payload: p})
		m, err := ser.Decode(call)
		if err != nil {
			t.Fatal(err)
		}
		c := m.(*wamp.Call)
		if c.Encoding != ser.Encoding() || !bytes.Equal(c.RawArgs, p.RawArgs) || !bytes.Equal(c.RawKwargs, p.RawKwargs) {
			t.Fatalf("%s: payload not kept raw", ser.Name())
		}
		inv, err := ser.Encode(&wamp.Invocation{Request: 9, Registration: 3, Details: wamp.Dict{}, Payload: c.Payload})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(inv, p.RawArgs) || !bytes.Contains(inv, p.RawKwargs) {
			t.Fatalf("%s: INVOCATION does not contain the CALL's payload bytes", ser.Name())
		}
	}
}

// TestJSONBinaryConvention: []byte is "\u0000"+base64 in JSON and bytes elsewhere.
func TestJSONBinaryConvention(t *testing.T) {
	t.Parallel()
	m, err := jsonSer.Decode([]byte(`[48,1,{},"p",["\u0000AAEC","plain"]]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []Serializer{msgpackSer, cborSer} {
		data, err := to.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		back, _ := to.Decode(data)
		args, _, _ := DecodePayload(wamp.PayloadOf(back))
		if b, ok := args[0].([]byte); !ok || !bytes.Equal(b, []byte{0, 1, 2}) || args[1] != "plain" {
			t.Fatalf("%s: %#v", to.Name(), args)
		}
		js, err := jsonSer.Encode(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(js, []byte(`"\u0000AAEC"`)) {
			t.Fatalf("back to JSON: %s", js)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	jsonCases := []string{``, `{}`, `[]`, `null`, `"x"`, `[99]`, `[1,"realm"]`, `[48,"1",{},"p"]`, `[48,9007199254740993,{},"p"]`,
		`[48,-1,{},"p"]`, `[48,1,{},"p","notalist"]`, `[48,1,{},"p",[],[]]`, `[48,1,{},"p"] x`, `[48,1,{}`, `[48,1,[],"p"]`,
		`[48,1,{},7]`, `[48,1.5,{},"p"]`, `[8,99,1,{},"e"]`, `[48,1,{},"p",[],{},{}]`}
	for _, c := range jsonCases {
		_, err := jsonSer.Decode([]byte(c))
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
			t.Errorf("json %q: %v", c, err)
		}
	}
	// The same shapes in the binary codecs, built from JSON values.
	for _, ser := range []Serializer{msgpackSer, cborSer} {
		for _, c := range jsonCases[2:] {
			v, err := jsonSer.decodeValue([]byte(c))
			if err != nil {
				continue
			}
			data, err := ser.(valueCodec).encodeValue(v)
			if err != nil {
				continue
			}
			if _, err := ser.Decode(data); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
				t.Errorf("%s %s: %v", ser.Name(), c, err)
			}
		}
		good, _ := ser.Encode(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "p", Payload: wamp.Values([]any{1}, nil)})
		for _, bad := range [][]byte{good[:len(good)-1], append(append([]byte{}, good...), 0), {0xc1}, nil} {
			if _, err := ser.Decode(bad); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s %x: %v", ser.Name(), bad, err)
			}
		}
	}
}

// TestHostileMsgPack: declared lengths without the bytes behind them, and
// deep nesting, are refused before the library decodes (and allocates).
func TestHostileMsgPack(t *testing.T) {
	t.Parallel()
	deep := append(bytes.Repeat([]byte{0x91}, 10000), 0x01)
	for _, data := range [][]byte{
		{0x9b, 0xdf, 0xd9, 0xd9, 0xd9, 0xd9, 0x14, 0x36},            // map32 of 3.6e9 pairs in 8 bytes
		{0x95, 0x30, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff},            // array32 of 4e9 items
		append([]byte{0x95, 0x30, 0x01, 0x80, 0xa1, 0x70}, deep...), // args nested 10000 deep
		{0x93, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00},            // bin32 of 4 GiB
	} {
		if _, err := msgpackSer.Decode(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", data[:min(len(data), 16)], err)
		}
	}
}

// TestJSONSplitEdges covers the fast JSON path's edges: leading whitespace,
// nesting deeper than encoding/json allows (refused, without growing the
// stack), brackets inside strings past the fast path's bound (decoded by
// encoding/json), and invalid JSON after a valid prefix.
func TestJSONSplitEdges(t *testing.T) {
	t.Parallel()
	m, err := jsonSer.Decode([]byte(" \n\t[48, 7, {}, \"com.x\", [1, \"a\"]]"))
	if err != nil {
		t.Fatal(err)
	}
	if c := m.(*wamp.Call); c.Request != 7 || string(c.Payload.RawArgs) != `[1, "a"]` {
		t.Fatalf("%+v", c)
	}
	deep := `[48,1,{},"com.x",` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + `]`
	if _, err := jsonSer.Decode([]byte(deep)); err == nil {
		t.Fatal("200,000 levels of nesting accepted")
	}
	brackets := strings.Repeat("[{", 10000)
	m, err = jsonSer.Decode([]byte(`[48,1,{},"com.x",["` + brackets + `"]]`))
	if err != nil {
		t.Fatalf("brackets inside a string: %v", err)
	}
	if got := string(m.(*wamp.Call).Payload.RawArgs); got != `["`+brackets+`"]` {
		t.Fatalf("args %.40s...", got)
	}
	for _, bad := range []string{`[48,1,{},"com.x",[1,]]`, `[48,1,{},"com.x"] x`, `[48,1,{},"com.x",["\q"]]`, `{"a":1}`, ``} {
		if _, err := jsonSer.Decode([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
