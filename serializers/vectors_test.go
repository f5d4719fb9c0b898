package serializers

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

// specDir holds the WAMP spec's official test vectors (shared/ beside the repository).
const specDir = "../../shared/wamp-spec/testsuite/singlemessage"

type vectorFile struct {
	Samples []struct {
		Description string                         `json:"description"`
		Serializers map[string][]map[string]string `json:"serializers"`
		Expected    map[string]any                 `json:"expected_attributes"`
	} `json:"samples"`
}

type vectorCase struct {
	name     string
	ser      Serializer
	data     []byte
	expected map[string]any
}

// vectorCases returns every json, msgpack and cbor sample of the spec's vectors.
func vectorCases(t testing.TB) []vectorCase {
	files, _ := filepath.Glob(filepath.Join(specDir, "*", "*.json"))
	if len(files) == 0 {
		t.Skipf("WAMP test vectors not found in %s", specDir)
	}
	var cases []vectorCase
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var vf vectorFile
		if err := json.Unmarshal(raw, &vf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range vf.Samples {
			for _, ser := range all {
				for i, enc := range s.Serializers[ser.Name()] {
					data := []byte(enc["bytes"])
					if ser.Binary() || enc["bytes"] == "" {
						if data, err = hex.DecodeString(enc["bytes_hex"]); err != nil {
							t.Fatalf("%s: %v", f, err)
						}
					}
					cases = append(cases, vectorCase{
						name: filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f) + "/" + s.Description + "/" + ser.Name() + "#" + string(rune('0'+i)),
						ser:  ser, data: data, expected: s.Expected,
					})
				}
			}
		}
	}
	return cases
}

// TestSpecVectors decodes every sample, compares it with the vector's
// expected attributes, re-encodes it, and compares again.
func TestSpecVectors(t *testing.T) {
	t.Parallel()
	n := 0
	for _, vc := range vectorCases(t) {
		n++
		m, err := vc.ser.Decode(vc.data)
		if err != nil {
			t.Errorf("%s: decode: %v", vc.name, err)
			continue
		}
		checkAttributes(t, vc.name, m, vc.expected)
		out, err := vc.ser.Encode(m)
		if err != nil {
			t.Errorf("%s: encode: %v", vc.name, err)
			continue
		}
		m2, err := vc.ser.Decode(out)
		if err != nil {
			t.Errorf("%s: decode re-encoded %q: %v", vc.name, out, err)
			continue
		}
		checkAttributes(t, vc.name+" (re-encoded)", m2, vc.expected)
		// Payload bytes are spliced unchanged.
		if p, p2 := wamp.PayloadOf(m), wamp.PayloadOf(m2); p != nil && (string(p.RawArgs) != string(p2.RawArgs) || string(p.RawKwargs) != string(p2.RawKwargs)) {
			t.Errorf("%s: payload bytes changed on re-encoding", vc.name)
		}
	}
	t.Logf("%d samples", n)
}

// attributes maps a message to the vocabulary of the vectors' expected_attributes.
func attributes(t testing.TB, m wamp.Message) map[string]any {
	a := map[string]any{"message_type": int(m.MessageType())}
	switch m := m.(type) {
	case *wamp.Hello:
		a["realm"], a["details"], a["roles"] = string(m.Realm), m.Details, m.Details["roles"]
	case *wamp.Welcome:
		a["session_id"], a["details"], a["roles"] = m.Session, m.Details, m.Details["roles"]
	case *wamp.Abort:
		a["details"], a["reason"] = m.Details, string(m.Reason)
	case *wamp.Goodbye:
		a["details"], a["reason"] = m.Details, string(m.Reason)
	case *wamp.Challenge:
		a["method"], a["extra"] = m.AuthMethod, m.Extra
	case *wamp.Authenticate:
		a["signature"], a["extra"] = m.Signature, m.Extra
	case *wamp.Error:
		a["request_type"], a["request_id"], a["details"], a["error"] = int(m.Type), m.Request, m.Details, string(m.Error)
	case *wamp.Publish:
		a["request_id"], a["options"], a["topic"] = m.Request, m.Options, string(m.Topic)
	case *wamp.Published:
		a["request_id"], a["publication"], a["publication_id"] = m.Request, m.Publication, m.Publication
	case *wamp.Subscribe:
		a["request_id"], a["options"], a["topic"] = m.Request, m.Options, string(m.Topic)
	case *wamp.Subscribed:
		a["request_id"], a["subscription"], a["subscription_id"] = m.Request, m.Subscription, m.Subscription
	case *wamp.Unsubscribe:
		a["request_id"], a["subscription"], a["subscription_id"] = m.Request, m.Subscription, m.Subscription
	case *wamp.Unsubscribed:
		a["request_id"], a["details"] = m.Request, m.Details
	case *wamp.Event:
		a["subscription"], a["subscription_id"], a["publication"], a["publication_id"], a["details"] = m.Subscription, m.Subscription, m.Publication, m.Publication, m.Details
	case *wamp.Call:
		a["request_id"], a["options"], a["procedure"] = m.Request, m.Options, string(m.Procedure)
	case *wamp.Cancel:
		a["request_id"], a["options"] = m.Request, m.Options
	case *wamp.Result:
		a["request_id"], a["details"] = m.Request, m.Details
	case *wamp.Register:
		a["request_id"], a["options"], a["procedure"] = m.Request, m.Options, string(m.Procedure)
	case *wamp.Registered:
		a["request_id"], a["registration_id"] = m.Request, m.Registration
	case *wamp.Unregister:
		a["request_id"], a["registration_id"] = m.Request, m.Registration
	case *wamp.Unregistered:
		a["request_id"], a["details"] = m.Request, m.Details
	case *wamp.Invocation:
		a["request_id"], a["registration_id"], a["details"] = m.Request, m.Registration, m.Details
	case *wamp.Interrupt:
		a["request_id"], a["options"] = m.Request, m.Options
	case *wamp.Yield:
		a["request_id"], a["options"] = m.Request, m.Options
	case *wamp.EventReceived:
		a["publication_id"] = m.Publication
	}
	if p := wamp.PayloadOf(m); p != nil {
		args, kwargs, err := DecodePayload(p)
		if err != nil {
			t.Fatalf("payload: %v", err)
		}
		a["payload"] = nil
		if p.Transparent {
			b, _ := args[0].([]byte)
			a["payload"], args = hex.EncodeToString(b), nil
		}
		a["args"], a["kwargs"] = nil, nil
		if args != nil {
			a["args"] = args
		}
		if len(kwargs) > 0 {
			a["kwargs"] = kwargs
		}
	}
	return a
}

func checkAttributes(t *testing.T, name string, m wamp.Message, expected map[string]any) {
	t.Helper()
	got := attributes(t, m)
	for key, want := range expected {
		g, ok := got[key]
		if !ok {
			t.Errorf("%s: no attribute %q in %s", name, key, m.MessageType())
			continue
		}
		if key == "kwargs" && isEmptyDict(want) {
			want = nil
		}
		if !reflect.DeepEqual(canonical(t, g), canonical(t, want)) {
			t.Errorf("%s: %s = %#v, want %#v", name, key, g, want)
		}
	}
}

func isEmptyDict(v any) bool { m, ok := v.(map[string]any); return ok && len(m) == 0 }

// canonical passes v through JSON so numbers and maps compare alike.
func canonical(t testing.TB, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
