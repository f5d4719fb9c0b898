package wire

import (
	"encoding/hex"
	"reflect"
	"testing"
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
