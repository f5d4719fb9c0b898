package router

import (
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// fakePeer is an in-memory transport.Peer: the test feeds Recv through in and
// reads what the router sent from out, decoded as the peer would see it.
type fakePeer struct {
	ser  serializers.Serializer
	in   chan wamp.Message
	out  chan wamp.Message
	done chan struct{}

	info transport.Info // set before serving

	// onSend, when set, sees each message Send is given, on the router's
	// goroutine that sends it (a panic there is the router's).
	onSend atomic.Pointer[func(wamp.Message)]

	mu        sync.Mutex
	frames    []*transport.Frame
	closed    bool
	closeCode transport.CloseCode
}

func newFakePeer(t testing.TB, serializer string) *fakePeer {
	ser, ok := serializers.ByName(serializer)
	if !ok {
		t.Fatalf("no serializer %q", serializer)
	}
	return &fakePeer{ser: ser, in: make(chan wamp.Message, 64), out: make(chan wamp.Message, 1024), done: make(chan struct{})}
}

// recvError makes Recv return err, as a transport does for bad input.
type recvError struct{ err error }

func (recvError) MessageType() wamp.MessageType { return 0 }

func (p *fakePeer) Recv() (wamp.Message, error) {
	select {
	case m := <-p.in:
		if e, ok := m.(recvError); ok {
			return nil, e.err
		}
		return m, nil
	case <-p.done:
		return nil, io.EOF
	}
}

// Send round-trips m through the serializer, as the wire would.
func (p *fakePeer) Send(m wamp.Message) error {
	if f := p.onSend.Load(); f != nil {
		(*f)(m)
	}
	data, err := p.ser.Encode(m)
	if err != nil {
		return err
	}
	return p.deliver(data)
}

func (p *fakePeer) SendFrame(f *transport.Frame) error {
	p.mu.Lock()
	p.frames = append(p.frames, f)
	p.mu.Unlock()
	return p.deliver(f.Data)
}

// lastFrame is the last shared frame queued to p.
func (p *fakePeer) lastFrame() *transport.Frame {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.frames) == 0 {
		return nil
	}
	return p.frames[len(p.frames)-1]
}

func (p *fakePeer) deliver(data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return transport.ErrClosed
	}
	m, err := p.ser.Decode(data)
	if err != nil {
		return err
	}
	select {
	case p.out <- m:
		return nil
	default:
		return transport.ErrSlowConsumer
	}
}

func (p *fakePeer) Serializer() serializers.Serializer { return p.ser }

func (p *fakePeer) Close(code transport.CloseCode, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed, p.closeCode = true, code
		close(p.done)
	}
}

func (p *fakePeer) Done() <-chan struct{} { return p.done }
func (p *fakePeer) Established()          {}

func (p *fakePeer) Info() transport.Info {
	info := p.info
	if info.RemoteAddr == "" {
		info.RemoteAddr = "192.0.2.1:1234"
	}
	info.Subprotocol = p.ser.Subprotocol()
	return info
}

func (p *fakePeer) code() transport.CloseCode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeCode
}

// expect returns the next message the router sent, failing after a generous
// deadline (a guard against hangs, not a timing assertion).
func (p *fakePeer) expect(t testing.TB) wamp.Message {
	t.Helper()
	select {
	case m := <-p.out:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message from the router")
		return nil
	}
}

var _ transport.Peer = (*fakePeer)(nil)
