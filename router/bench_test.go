package router

import (
	"fmt"
	"io"
	"testing"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// benchPeer is a lean transport.Peer for benchmarks: it encodes what the
// router sends, as the WebSocket peer does, and hands the bytes over
// without decoding them, so the figures are the router's work (routing and
// encoding) plus one channel handoff per message.
type benchPeer struct {
	ser  serializers.Serializer
	in   chan wamp.Message
	out  chan []byte
	done chan struct{}
}

func newBenchPeer(b *testing.B, serializer string) *benchPeer {
	ser, ok := serializers.ByName(serializer)
	if !ok {
		b.Fatalf("no serializer %q", serializer)
	}
	return &benchPeer{ser: ser, in: make(chan wamp.Message, 16), out: make(chan []byte, 16), done: make(chan struct{})}
}

func (p *benchPeer) Recv() (wamp.Message, error) {
	select {
	case m := <-p.in:
		return m, nil
	case <-p.done:
		return nil, io.EOF
	}
}

func (p *benchPeer) Send(m wamp.Message) error {
	data, err := p.ser.Encode(m)
	if err != nil {
		return err
	}
	p.out <- data
	return nil
}

func (p *benchPeer) SendFrame(f *transport.Frame) error { p.out <- f.Data; return nil }
func (p *benchPeer) Serializer() serializers.Serializer { return p.ser }
func (p *benchPeer) Close(transport.CloseCode, string)  {}
func (p *benchPeer) Done() <-chan struct{}              { return p.done }
func (p *benchPeer) Info() transport.Info               { return transport.Info{RemoteAddr: "192.0.2.1:1"} }
func (p *benchPeer) Established()                       {}
func (p *benchPeer) expect(b *testing.B, want wamp.MessageType) []byte {
	data := <-p.out
	m, err := p.ser.Decode(data)
	if err != nil || m.MessageType() != want {
		b.Fatalf("want %v, got %v (%v)", want, m, err)
	}
	return data
}

// benchJoin serves a benchPeer on r and joins realm1.
func benchJoin(b *testing.B, r *Router, serializer string) *benchPeer {
	p := newBenchPeer(b, serializer)
	served := make(chan struct{})
	go func() { r.ServePeer(p); close(served) }()
	b.Cleanup(func() { close(p.done); <-served })
	p.in <- &wamp.Hello{Realm: "realm1", Details: allRoles}
	p.expect(b, wamp.WELCOME)
	return p
}

func benchPayload(b *testing.B, serializer string, size int) wamp.Payload {
	ser, _ := serializers.ByName(serializer)
	args := []any{42, "hello"}
	if size > 0 {
		args = []any{make([]byte, size)}
	}
	pl, err := serializers.EncodePayload(ser.Encoding(), args, nil)
	if err != nil {
		b.Fatal(err)
	}
	return pl
}

// BenchmarkRouteCall is one call routed end to end through the router:
// CALL in from the caller, INVOCATION encoded for the callee, YIELD in,
// RESULT encoded for the caller. Decoding the incoming messages is the
// serializers' benchmark; it is not counted here.
func BenchmarkRouteCall(b *testing.B) {
	for _, serializer := range []string{"json", "msgpack", "cbor"} {
		for _, size := range []int{0, 64 << 10} {
			b.Run(fmt.Sprintf("%s/payload=%d", serializer, size), func(b *testing.B) {
				r := newTestRouter(b, Config{})
				callee := benchJoin(b, r, serializer)
				caller := benchJoin(b, r, serializer)
				callee.in <- &wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "bench.echo"}
				callee.expect(b, wamp.REGISTERED)
				pl := benchPayload(b, serializer, size)
				b.ReportAllocs()
				var i wamp.ID
				for b.Loop() {
					i++
					caller.in <- &wamp.Call{Request: i, Options: wamp.Dict{}, Procedure: "bench.echo", Payload: pl}
					<-callee.out
					// Invocation request IDs are the callee session's sequence: 1, 2, 3...
					callee.in <- &wamp.Yield{Request: i, Options: wamp.Dict{}, Payload: pl}
					<-caller.out
				}
				// The last RESULT must be the answer to the last CALL.
				caller.in <- &wamp.Call{Request: i + 1, Options: wamp.Dict{}, Procedure: "bench.echo", Payload: pl}
				callee.expect(b, wamp.INVOCATION)
				callee.in <- &wamp.Yield{Request: i + 1, Options: wamp.Dict{}, Payload: pl}
				caller.expect(b, wamp.RESULT)
			})
		}
	}
}

// BenchmarkFanOutEvent is one PUBLISH delivered to S subscribers: the
// EVENT is encoded once per serializer and the same frame queued to each.
func BenchmarkFanOutEvent(b *testing.B) {
	for _, subs := range []int{50, 1000} {
		b.Run(fmt.Sprintf("json/S=%d", subs), func(b *testing.B) {
			r := newTestRouter(b, Config{MaxSessionsPerAddress: -1}) // every bench peer has one address
			pub := benchJoin(b, r, "json")
			peers := make([]*benchPeer, subs)
			for i := range peers {
				peers[i] = benchJoin(b, r, "json")
				peers[i].in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "bench.topic"}
				peers[i].expect(b, wamp.SUBSCRIBED)
			}
			pl := benchPayload(b, "json", 0)
			b.ReportAllocs()
			var i wamp.ID
			for b.Loop() {
				i++
				pub.in <- &wamp.Publish{Request: i, Options: wamp.Dict{}, Topic: "bench.topic", Payload: pl}
				for _, p := range peers {
					<-p.out
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(subs), "ns/delivery")
		})
	}
}
