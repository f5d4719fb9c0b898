package serializers_test

import (
	"reflect"
	"testing"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// spliceMessages are messages with a request id to replace, and others.
func spliceMessages(t testing.TB, s serializers.Serializer) []wamp.Message {
	p, err := serializers.EncodePayload(s.Encoding(), []any{"x", 1.5, map[string]any{"k": []any{true}}}, map[string]any{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	return []wamp.Message{
		&wamp.Invocation{Request: 1, Registration: 7, Details: wamp.Dict{}},
		&wamp.Invocation{Request: wamp.MaxID, Registration: 1 << 40, Details: wamp.Dict{"caller": 3, "procedure": "com.x"}, Payload: p},
		&wamp.Invocation{Request: 300, Registration: 2, Details: wamp.Dict{"receive_progress": true}, Payload: wamp.Payload{Args: []any{"y"}}},
		&wamp.Interrupt{Request: 70000, Options: wamp.Dict{"mode": "kill"}},
		&wamp.Yield{Request: 1 << 33, Options: wamp.Dict{"progress": true}, Payload: p},
		&wamp.Call{Request: 5, Options: wamp.Dict{}, Procedure: "com.x"},
		&wamp.Error{Type: wamp.INVOCATION, Request: 5, Details: wamp.Dict{}, Error: "com.err"},
		&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal},
	}
}

// TestRequestFrame: a frame with its request id replaced decodes to the
// message with that id and nothing else changed, for every serializer and
// every size of id; other messages are refused.
func TestRequestFrame(t *testing.T) {
	for _, s := range serializers.All() {
		t.Run(s.Name(), func(t *testing.T) {
			for _, m := range spliceMessages(t, s) {
				frame, err := s.Encode(m)
				if err != nil {
					t.Fatal(err)
				}
				f, ok := serializers.ParseRequestFrame(s, frame)
				switch m.(type) {
				case *wamp.Invocation, *wamp.Interrupt, *wamp.Yield:
				default:
					if ok {
						t.Fatalf("%T accepted", m)
					}
					continue
				}
				if !ok || f.Type != m.MessageType() {
					t.Fatalf("%T: ok %v type %v", m, ok, f.Type)
				}
				if got, want := f.Request(), requestOf(m); got != want {
					t.Fatalf("%T: request %d, want %d", m, got, want)
				}
				for _, id := range []wamp.ID{0, 1, 23, 24, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, wamp.MaxID} {
					got, err := s.Decode(f.WithRequest(id))
					if err != nil {
						t.Fatalf("%T with %d: %v", m, id, err)
					}
					want, err := s.Decode(frame)
					if err != nil {
						t.Fatal(err)
					}
					setRequest(want, id)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%T with %d: %#v, want %#v", m, id, got, want)
					}
				}
			}
		})
	}
}

func requestOf(m wamp.Message) wamp.ID {
	switch m := m.(type) {
	case *wamp.Invocation:
		return m.Request
	case *wamp.Interrupt:
		return m.Request
	case *wamp.Yield:
		return m.Request
	}
	return 0
}

func setRequest(m wamp.Message, id wamp.ID) {
	switch m := m.(type) {
	case *wamp.Invocation:
		m.Request = id
	case *wamp.Interrupt:
		m.Request = id
	case *wamp.Yield:
		m.Request = id
	}
}

// FuzzRequestFrame: any bytes are refused or spliced without a panic, and
// a frame that decodes keeps decoding to the same message with the new id.
func FuzzRequestFrame(f *testing.F) {
	for _, s := range serializers.All() {
		for _, m := range spliceMessages(f, s) {
			frame, err := s.Encode(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(s.Name(), frame, uint64(99))
		}
	}
	f.Add("json", []byte(` [ 68 , 12 , 3, {} ] `), uint64(1))
	f.Fuzz(func(t *testing.T, name string, frame []byte, id uint64) {
		s, ok := serializers.ByName(name)
		if !ok {
			return
		}
		id %= uint64(wamp.MaxID) + 1
		rf, ok := serializers.ParseRequestFrame(s, frame)
		if !ok {
			return
		}
		out := rf.WithRequest(wamp.ID(id))
		want, err := s.Decode(frame)
		if err != nil {
			return // the rest of a frame is not checked
		}
		got, err := s.Decode(out)
		if err != nil {
			t.Fatalf("%s %x: spliced %x does not decode: %v", name, frame, out, err)
		}
		if got.MessageType() != rf.Type || want.MessageType() != rf.Type || requestOf(got) != wamp.ID(id) || requestOf(want) != rf.Request() {
			t.Fatalf("%s %x: %#v from %#v", name, frame, got, want)
		}
		setRequest(want, wamp.ID(id))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s %x: %#v, want %#v", name, frame, got, want)
		}
	})
}
