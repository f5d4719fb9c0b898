package router

import (
	"testing"
	"time"

	"github.com/junction-wamp/junction/cluster/wire"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// fakeBus is a cluster bus that goes nowhere and confirms at once.
type fakeBus struct{}

func (fakeBus) ID() string                                                      { return "0000000000000001" }
func (fakeBus) Send(string, []byte) error                                       { return nil }
func (fakeBus) NodeTimeout() time.Duration                                      { return time.Second }
func (fakeBus) SendAll(_ []string, _ []byte, _ time.Duration, done func(error)) { done(nil) }
func (fakeBus) Silence(string) time.Duration                                    { return 0 }

// FuzzClusterDeliver hands the router arbitrary messages from another
// cluster node, then drops that node, next to a local session that
// registered and subscribed: nothing panics and the local session keeps
// working.
func FuzzClusterDeliver(f *testing.F) {
	json, _ := serializers.ByName("json")
	invocation, _ := json.Encode(&wamp.Invocation{Request: 7, Registration: 1, Payload: wamp.Values([]any{1}, nil)})
	yield, _ := json.Encode(&wamp.Yield{Request: 7, Options: wamp.Dict{}, Payload: wamp.Values([]any{2}, nil)})
	event, _ := json.Encode(&wamp.Event{Subscription: 1, Publication: 9, Payload: wamp.Values([]any{"x"}, nil)})
	joined := &wire.Envelope{Kind: wire.KindJoin, Realm: "realm1", Session: 42, AuthID: "a", AuthRole: "anonymous", Serializer: "json",
		Roles: map[string]any{"callee": map[string]any{"features": map[string]any{"call_canceling": true}}}}
	seeds := []*wire.Envelope{
		joined,
		{Kind: wire.KindRegister, Realm: "realm1", Session: 42, Procedure: "com.remote", Registration: 3},
		{Kind: wire.KindSubscribe, Realm: "realm1", Session: 42, Topic: "local.topic", On: true},
		{Kind: wire.KindPublish, Realm: "realm1", Topic: "local.topic", Publication: 9, Serializer: "json", Frame: event, Retain: true},
		{Kind: wire.KindFrame, Realm: "realm1", Session: 0, Frame: invocation, Request: 5},
		{Kind: wire.KindAnswer, Realm: "realm1", Session: 42, Frame: yield},
		{Kind: wire.KindTestament, Realm: "realm1", Session: 42, Scope: "destroyed", Topic: "local.topic", Args: []any{"bye"}},
		{Kind: wire.KindSnapshot, Items: []*wire.Envelope{joined, {Kind: wire.KindRegister, Realm: "realm1", Session: 42, Procedure: "com.remote", Match: "prefix", Registration: 4}}, Reply: true},
		{Kind: wire.KindLeave, Realm: "realm1", Session: 42},
		{Kind: wire.KindClose, Realm: "realm1", Session: 1, Code: 1000},
		{Kind: wire.KindDigest, Sum: 1, RetainedSum: 2},
		{Kind: wire.KindResync},
		{Kind: wire.KindAudit, Realm: "realm1", Requests: []uint64{1, 5, 42}},
		{Kind: wire.KindAudited, Realm: "realm1", Requests: []uint64{42, 5}},
		{Kind: wire.KindFenced, Realm: "realm1", Sessions: []uint64{1}},
		{Kind: wire.KindRegister, Realm: "realm1", Session: 42, Procedure: "local.proc", Registration: 1},
	}
	for _, e := range seeds {
		data, err := wire.Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newTestRouter(t, Config{})
		local, id := join(t, r, "json")
		register(t, local, 1, "local.proc")
		subscribe(t, local, 2, "local.topic")
		h := r.AttachCluster(fakeBus{})
		h.NodeUp("000000000000000a")
		h.Deliver("000000000000000a", data)
		if e, err := wire.Decode(data); err == nil && e.Kind == wire.KindFrame {
			// A frame may address the local session: as its id.
			e.Session = uint64(id)
			if again, err := wire.Encode(e); err == nil {
				h.Deliver("000000000000000a", again)
			}
		}
		h.NodeDown("000000000000000a", false)
		for len(local.out) > 0 { // what the remote node sent it
			<-local.out
		}
		local.in <- &wamp.Call{Request: 3, Options: wamp.Dict{}, Procedure: "local.proc"}
		inv := expectType[*wamp.Invocation](t, local)
		local.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}}
		for {
			if res, ok := local.expect(t).(*wamp.Result); ok {
				if res.Request != 3 {
					t.Fatalf("RESULT for %d", res.Request)
				}
				return
			}
		}
	})
}
