package wire

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/junction-wamp/junction/transport"
)

// TestEncodeStable: the bytes of a message do not change (nodes of
// different versions share a cluster), and decode back to the same message.
func TestEncodeStable(t *testing.T) {
	e := &Envelope{Kind: KindRegister, Realm: "realm1", Session: 42, Procedure: "com.example.p", Match: "prefix", Registration: 7,
		Items: []*Envelope{{Kind: KindLeave, Realm: "realm1", Session: 43}}}
	data, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = "87a16bcc04a172a67265616c6d31a173cf000000000000002aa170ad636f6d2e6578616d706c652e70a16da6707265666978a167cf0000000000000007a269749183a16bcc03a172a67265616c6d31a173cf000000000000002b"
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

// TestDecodeRejects: what is not a message is an error, not a panic.
func TestDecodeRejects(t *testing.T) {
	for _, data := range [][]byte{nil, {0xc1}, {0xdd, 0xff, 0xff, 0xff, 0xff}, []byte("not msgpack")} {
		if _, err := Decode(data); err == nil {
			t.Errorf("%x decoded", data)
		}
	}
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
