package router

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// TestSpecOptionVectors sends every options_validation sample of the spec's
// test vectors for messages a router receives (PUBLISH, SUBSCRIBE): the valid
// ones are routed, the invalid ones end the session with a protocol
// violation whose message names the option.
func TestSpecOptionVectors(t *testing.T) {
	t.Parallel()
	dir := "../../shared/wamp-spec/testsuite/singlemessage/basic"
	n := 0
	for _, file := range []string{"publish.json", "subscribe.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Skipf("WAMP test vectors not found in %s", dir)
		}
		var vf struct {
			Samples []struct {
				Description   string          `json:"description"`
				Category      string          `json:"test_category"`
				Wmsg          json.RawMessage `json:"wmsg"`
				ExpectedError *struct {
					Type     string `json:"type"`
					Contains string `json:"contains"`
				} `json:"expected_error"`
			} `json:"samples"`
		}
		if err := json.Unmarshal(raw, &vf); err != nil {
			t.Fatal(err)
		}
		ser, _ := serializers.ByName("json")
		for _, sm := range vf.Samples {
			if sm.Wmsg == nil {
				continue
			}
			n++
			msg, err := ser.Decode(sm.Wmsg)
			if err != nil {
				t.Errorf("%s: %v", sm.Description, err)
				continue
			}
			r := newTestRouter(t, Config{})
			p, _ := join(t, r, "json")
			p.in <- msg
			p.in <- &wamp.Subscribe{Request: 99, Options: wamp.Dict{}, Topic: "probe"}
			if sm.ExpectedError != nil {
				a := expectType[*wamp.Abort](t, p)
				if a.Reason != wamp.ErrProtocolViolation || !strings.Contains(a.Details.String("message"), sm.ExpectedError.Contains) {
					t.Errorf("%s: ABORT %s %q", sm.Description, a.Reason, a.Details.String("message"))
				}
				<-p.Done()
				if p.code() != transport.CloseProtocolError {
					t.Errorf("%s: close code %d", sm.Description, p.code())
				}
				continue
			}
			// Valid: the session goes on and answers the probe.
			for {
				m := p.expect(t)
				if a, ok := m.(*wamp.Abort); ok {
					t.Errorf("%s: valid options refused: %v", sm.Description, a.Details)
					break
				}
				if s, ok := m.(*wamp.Subscribed); ok && s.Request == 99 {
					break
				}
			}
		}
	}
	t.Logf("%d option samples", n)
}

// TestNullOptionsAreAbsent: JavaScript clients (wampy over CBOR) send
// undefined or null for options they leave unset; that is not a type error.
func TestNullOptionsAreAbsent(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	p, _ := join(t, r, "cbor")
	p.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{"match": nil, "get_retained": nil}, Topic: "a.b"}
	expectType[*wamp.Subscribed](t, p)
	p.in <- &wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true, "exclude_me": nil, "exclude": nil}, Topic: "a.b"}
	expectType[*wamp.Published](t, p)
}
