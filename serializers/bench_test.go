package serializers

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/junction-wamp/junction/wamp"
)

func benchMessages(b *testing.B, ser Serializer) map[string]wamp.Message {
	call, err := EncodePayload(ser.Encoding(), []any{42, "hello"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	event, err := EncodePayload(ser.Encoding(), []any{strings.Repeat("x", 1024)}, map[string]any{"n": 1})
	if err != nil {
		b.Fatal(err)
	}
	return map[string]wamp.Message{
		"call":       &wamp.Call{Request: 1234, Options: wamp.Dict{}, Procedure: "com.example.echo", Payload: call},
		"event_1KiB": &wamp.Event{Subscription: 77, Publication: 1 << 50, Details: wamp.Dict{}, Payload: event},
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, ser := range all {
		for name, m := range benchMessages(b, ser) {
			b.Run(ser.Name()+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := ser.Encode(m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, ser := range all {
		for name, m := range benchMessages(b, ser) {
			data, err := ser.Encode(m)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(ser.Name()+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, err := ser.Decode(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkTranscode: a CALL decoded from JSON, encoded as a msgpack INVOCATION.
func BenchmarkTranscode(b *testing.B) {
	m, err := jsonSer.Decode([]byte(`[48,1,{},"com.example.echo",[42,"hello",{"a":[1,2,3]}],{"k":"v"}]`))
	if err != nil {
		b.Fatal(err)
	}
	inv := &wamp.Invocation{Request: 1, Registration: 2, Details: wamp.Dict{}, Payload: m.(*wamp.Call).Payload}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := msgpackSer.Encode(inv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck: the structure and text checks alone, on the frames of
// BenchmarkDecode (checkMsgpack, checkCBOR, utf8.Valid for JSON).
func BenchmarkCheck(b *testing.B) {
	checks := map[Serializer]func([]byte) error{
		jsonSer: func(d []byte) error {
			if !utf8.Valid(d) {
				return ErrMalformed
			}
			return nil
		},
		msgpackSer: checkMsgpack,
		cborSer:    checkCBOR,
	}
	for _, ser := range all {
		for name, m := range benchMessages(b, ser) {
			data, err := ser.Encode(m)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(ser.Name()+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if err := checks[ser](data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
