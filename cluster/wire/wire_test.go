package wire

import (
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/transport"
)

// TestEncodeStable: the bytes of a message do not change (nodes of one
// version share a cluster), and decode back to the same message.
func TestEncodeStable(t *testing.T) {
	e := &Envelope{Kind: KindRegister, Realm: "realm1", Session: 42, Procedure: "com.example.p", Match: "prefix", Registration: 7,
		Items: []*Envelope{{Kind: KindLeave, Realm: "realm1", Session: 43}}}
	data, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = "b10401067265616c6d31022a0b0d636f6d2e6578616d706c652e700c06707265666978" +
		"0e0728010b0301067265616c6d31022b"
	if got := hex.EncodeToString(data); got != want {
		t.Errorf("encoded as\n%s\nwant\n%s", got, want)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Errorf("decoded as %+v, want %+v", back, e)
	}
}

// TestRoundTrip: every field of every kind comes back as it was sent, set
// alone or all together (a field added to Envelope but not to the codec
// fails here).
func TestRoundTrip(t *testing.T) {
	full := fullEnvelope(t)
	typ := reflect.TypeOf(Envelope{})
	for k := KindSnapshot; k <= KindDrain; k++ {
		for i := range typ.NumField() {
			if typ.Field(i).Name == "Kind" {
				continue
			}
			e := &Envelope{Kind: k}
			reflect.ValueOf(e).Elem().Field(i).Set(reflect.ValueOf(full).Elem().Field(i))
			roundTrip(t, e)
		}
		all := *full
		all.Kind = k
		roundTrip(t, &all)
	}
	roundTrip(t, &Envelope{})
	roundTrip(t, &Envelope{Kind: KindFrame, Code: -1, Joined: -5, Time: math.MinInt64, Session: math.MaxUint64})
}

// fullEnvelope has every field set, to a value that is not zero.
func fullEnvelope(t *testing.T) *Envelope {
	e := &Envelope{Kind: KindJoin, Realm: "realm1", Session: 1 << 53, AuthID: "alice", AuthRole: "user", AuthMethod: "ticket",
		AuthProvider: "static", Serializer: "msgpack", Roles: map[string]any{"callee": map[string]any{"features": map[string]any{"x": true}}},
		Joined: 1700000000000, Transport: "websocket", Procedure: "com.p", Match: "wildcard", Invoke: "roundrobin",
		Registration: 77, DiscloseCaller: true, ForwardTimeout: true, Topic: "com.t", On: true, Subscription: 88,
		Frame: []byte{0x93, 0x24, 0x01, 0x02}, Binary: true, Request: 99, Code: 1011, Reason: "wamp.close.system_shutdown",
		Publication: 123456789, Disclose: true, Retain: true, StoreOnly: true, Time: 1700000000000000000,
		Exclude: []uint64{1, 2}, Eligible: []uint64{3}, ExcludeAuthID: []string{"a", ""}, EligibleAuthID: []string{"b"},
		ExcludeAuthRole: []string{"r"}, EligibleAuthRole: []string{"s", "t"}, Scope: "detached",
		Args: []any{int64(1), "two", []any{3.5}}, Kwargs: map[string]any{"k": "v"}, Options: map[string]any{"retain": true},
		Items: []*Envelope{{Kind: KindJoin, Realm: "realm1", Session: 2, Roles: map[string]any{"caller": map[string]any{}}},
			{Kind: KindSubscribe, Topic: "a.b", Match: "prefix", On: true, Subscription: 5}},
		Sum: 0xfeedfacecafebeef, RetainedSum: 1, Requests: []uint64{math.MaxUint64, 0, 7}, Sessions: []uint64{9}, Reply: true, More: true}
	v := reflect.ValueOf(e).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullEnvelope leaves %s zero", v.Type().Field(i).Name)
		}
	}
	return e
}

func roundTrip(t *testing.T, e *Envelope) {
	t.Helper()
	data, err := Encode(e)
	if err != nil {
		t.Fatalf("%+v: %v", e, err)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatalf("%+v: %v", e, err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Errorf("decoded as %+v, want %+v", back, e)
	}
}

// TestDecodeRejects: what is not a message is an error, not a panic; a
// message of another format version says so.
func TestDecodeRejects(t *testing.T) {
	good, err := Encode(&Envelope{Kind: KindFrame, Realm: "r", Session: 3, Frame: []byte("[36,1,2,{}]"), Request: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{
		nil, {0xc1}, {Version}, []byte("not a message"),
		{Version, byte(KindFrame), tFrame, 0xff, 0xff, 0xff, 0xff, 0x0f},                                             // a frame longer than the message
		{Version, byte(KindAudit), tRequests, 0xff, 0xff, 0xff, 0xff, 0x0f, 1},                                       // more elements than bytes
		{Version, byte(KindSnapshot), tItems, 1, 7, byte(KindSnapshot), tItems, 1, 3, byte(KindSnapshot), tItems, 0}, // items nested too deep
		{Version, byte(KindJoin), tRoles, 3, 0xdd, 0xff, 0xff},                                                       // msgpack out of bounds
		{Version, byte(KindJoin), tLast},                                                                             // a field this version does not know
		{Version, byte(KindClose), tCode, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1},                         // a code out of range
		good[:len(good)-1],
		// The msgpack Envelope of the previous format.
		mustHex(t, "87a16bcc04a172a67265616c6d31a173cf000000000000002aa170ad636f6d2e6578616d706c652e70a16da6707265666978a167cf0000000000000007a269749183a16bcc03a172a67265616c6d31a173cf000000000000002b"),
	} {
		if _, err := Decode(data); err == nil {
			t.Errorf("%x decoded", data)
		}
	}
	if _, err := Decode([]byte{0x87, 1}); err == nil || !strings.Contains(err.Error(), "format version") {
		t.Errorf("another format version: %v", err)
	}
	deep := &Envelope{Kind: KindSnapshot, Items: []*Envelope{{Kind: KindSnapshot, Items: []*Envelope{{Kind: KindSnapshot, Items: []*Envelope{{Kind: KindJoin}}}}}}}
	if _, err := Encode(deep); err == nil {
		t.Error("items nested 3 deep encoded")
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecode: no input makes Decode panic, and what it decodes encodes to
// bytes that decode to the same message (the fields of any type aside:
// msgpack extension values do not compare equal once decoded again).
func FuzzDecode(f *testing.F) {
	for _, e := range []*Envelope{
		{Kind: KindFrame, Realm: "realm1", Session: 42, Frame: []byte(`[68,5,1,{},[1]]`), Request: 5},
		{Kind: KindAnswer, Realm: "realm1", Session: 42, Frame: []byte(`[70,5,{},[2]]`)},
		{Kind: KindPublish, Realm: "realm1", Topic: "t", Publication: 9, Serializer: "json", Frame: []byte(`[36,1,9,{},["x"]]`),
			Retain: true, Time: 5, Exclude: []uint64{1}, EligibleAuthRole: []string{"r"}},
		{Kind: KindSnapshot, Items: []*Envelope{{Kind: KindJoin, Realm: "realm1", Session: 2, Roles: map[string]any{"caller": map[string]any{}}}}, Reply: true},
		{Kind: KindTestament, Realm: "realm1", Session: 42, Scope: "destroyed", Topic: "t", Args: []any{"bye"}, Kwargs: map[string]any{"a": 1}},
		{Kind: KindAudit, Realm: "realm1", Requests: []uint64{1, 5, 42}},
	} {
		data, err := Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(e)
		if err != nil {
			return // an Args value msgpack decodes but does not encode back
		}
		back, err := Decode(again)
		if err != nil {
			t.Fatalf("%x: re-encoded as %x, which does not decode: %v", data, again, err)
		}
		if withoutAny(back); !reflect.DeepEqual(back, withoutAny(e)) {
			t.Fatalf("%x: decoded as %+v, then as %+v", data, e, back)
		}
	})
}

// withoutAny clears the fields of any type of e and its items.
func withoutAny(e *Envelope) *Envelope {
	e.Roles, e.Args, e.Kwargs, e.Options = nil, nil, nil, nil
	for _, it := range e.Items {
		withoutAny(it)
	}
	return e
}

// TestCloseNumbers: close reasons cross the wire as the RFC 6455 numbers
// older nodes sent and expect, both ways, and an unknown number is an
// internal error.
func TestCloseNumbers(t *testing.T) {
	want := map[transport.CloseCode]int{
		transport.CloseNormal: 1000, transport.CloseGoingAway: 1001, transport.CloseProtocolError: 1002,
		transport.CloseUnsupportedData: 1003, transport.CloseInvalidPayload: 1007,
		transport.ClosePolicyViolation: 1008, transport.CloseMessageTooBig: 1009, transport.CloseInternalError: 1011,
	}
	for c, n := range want {
		if got := CloseNumber(c); got != n {
			t.Errorf("%v crosses as %d, want %d", c, got, n)
		}
		if got := CloseReason(n); got != c {
			t.Errorf("%d arrives as %v, want %v", n, got, c)
		}
	}
	if got := CloseReason(4000); got != transport.CloseInternalError {
		t.Errorf("4000 arrives as %v", got)
	}
}
