package router

import (
	"context"
	"fmt"
	"sync"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// The router itself calls procedures for dynamic authentication and
// authorization. Such a call goes through the dealer like any other, from a
// short-lived internal caller session whose peer is a channel: the callee's
// YIELD or ERROR lands there. The session that waits for the answer (the
// one authenticating or being authorized) waits on its own goroutine.

// localPeer is the peer of an internal caller: what the router sends to it
// is handed over on a channel, undecoded.
type localPeer struct {
	out    chan wamp.Message
	done   chan struct{}
	closed sync.Once
}

var _ transport.Peer = (*localPeer)(nil)

func newLocalPeer() *localPeer {
	return &localPeer{out: make(chan wamp.Message, 16), done: make(chan struct{})}
}

func (p *localPeer) Recv() (wamp.Message, error) {
	<-p.done
	return nil, transport.ErrClosed
}

func (p *localPeer) Send(m wamp.Message) error {
	select {
	case p.out <- m:
		return nil
	case <-p.done:
		return transport.ErrClosed
	default:
		return transport.ErrSlowConsumer // only progressive results could fill it
	}
}

func (p *localPeer) SendFrame(*transport.Frame) error { return transport.ErrClosed }
func (p *localPeer) Serializer() serializers.Serializer {
	s, _ := serializers.ByName("json")
	return s
}
func (p *localPeer) Close(transport.CloseCode, string) { p.closed.Do(func() { close(p.done) }) }
func (p *localPeer) Done() <-chan struct{}             { return p.done }
func (p *localPeer) Info() transport.Info {
	return transport.Info{Transport: "internal", RemoteAddr: "junction"}
}
func (p *localPeer) Established() {}

// callInternal calls procedure in realm rm on behalf of the router and
// waits for the result, or ctx.
func (r *Router) callInternal(ctx context.Context, rm *realm, procedure wamp.URI, args []any, kwargs map[string]any) ([]any, map[string]any, error) {
	lp := newLocalPeer()
	caller := newSession(r, lp)
	caller.id = wamp.GlobalID()
	caller.realm = rm
	caller.authid, caller.authrole, caller.authmethod, caller.authprovider = "junction", "junction", "internal", "junction"
	caller.internal = true
	defer lp.Close(transport.CloseNormal, "")
	const request = 1
	if e := caller.handleCall(&wamp.Call{Request: request, Options: wamp.Dict{}, Procedure: procedure, Payload: wamp.Values(args, kwargs)}); e.ended() {
		return nil, nil, fmt.Errorf("router: internal call of %s: %s", procedure, e)
	}
	for {
		select {
		case m := <-lp.out:
			switch m := m.(type) {
			case *wamp.Result:
				if m.Details.Bool("progress", false) {
					continue
				}
				return serializers.DecodePayload(&m.Payload)
			case *wamp.Error:
				a, _, _ := serializers.DecodePayload(&m.Payload)
				return nil, nil, &wamp.RPCError{URI: m.Error, Args: a}
			}
		case <-ctx.Done():
			if inv := caller.call(request); inv != nil {
				r.cancel(inv, cancelKillNoWait, wamp.ErrTimeout, "the router stopped waiting")
			}
			return nil, nil, fmt.Errorf("router: internal call of %s: %w", procedure, ctx.Err())
		}
	}
}
