package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

// errLimitExceeded is Junction's answer to a request past one of its limits.
const errLimitExceeded wamp.URI = "junction.error.limit_exceeded"

// hostileKind is one kind of hostile client: run returns an error when the
// router did not answer it as it should.
type hostileKind struct {
	name string
	run  func(context.Context) error
}

func (s *soak) hostileKinds() []hostileKind {
	return []hostileKind{
		{"malformed frame", s.malformed},
		{"oversized HELLO", s.oversizedHello},
		{"HELLO to a nonexistent realm", s.noSuchRealm},
		{"subscription flood", s.subscriptionFlood},
		{"calls to no procedure", s.noSuchProcedure},
		{"oversized message", s.oversizedMessage},
		{"transport open, no HELLO", s.silentSession},
		{"silent connection", s.silentConnection},
	}
}

// hostile starts a hostile client every --hostile-every, each kind in turn.
// One cut short by the run's end is not judged.
func (s *soak) hostile(ctx context.Context) {
	kinds := s.hostileKinds()
	t := time.NewTicker(s.so.hostileEvery)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k := kinds[n%len(kinds)]
		wg.Go(func() {
			err := k.run(ctx)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				s.fail(&s.st.hostileUnexpected, "%s: %v", k.name, err)
			default:
				s.st.hostile.Add(1)
			}
		})
	}
}

// closeAtEnd closes c when the run ends; call the result when done.
func closeAtEnd(ctx context.Context, c *conn) func() bool {
	return context.AfterFunc(ctx, c.close)
}

// malformed joins and sends a frame that is not a WAMP message.
func (s *soak) malformed(ctx context.Context) error {
	c, err := dial(ctx, s.o.url, s.o.realm, "json")
	if err != nil {
		return err
	}
	defer c.close()
	defer closeAtEnd(ctx, c)()
	if err := c.sendRaw([]byte(`[48, 1, {}, "soak`)); err != nil {
		return err
	}
	return expectClosed(c, s.so.answerTimeout)
}

// oversizedHello sends a HELLO of 128 KiB, twice the router's handshake limit.
func (s *soak) oversizedHello(ctx context.Context) error {
	c, err := open(ctx, nil, s.o.url, "json")
	if err != nil {
		return err
	}
	defer c.close()
	defer closeAtEnd(ctx, c)()
	details := wamp.Dict{"roles": benchRoles["roles"], "authextra": wamp.Dict{"pad": strings.Repeat("x", 128<<10)}}
	if err := c.send(&wamp.Hello{Realm: wamp.URI(s.o.realm), Details: details}); err != nil {
		return err
	}
	return expectClosed(c, s.so.answerTimeout)
}

// noSuchRealm says HELLO to a realm the router does not have.
func (s *soak) noSuchRealm(ctx context.Context) error {
	c, err := open(ctx, nil, s.o.url, "msgpack")
	if err != nil {
		return err
	}
	defer c.close()
	defer closeAtEnd(ctx, c)()
	c.setReadDeadline(time.Now().Add(s.so.answerTimeout))
	m, err := c.hello(string(s.uri("nowhere")), benchRoles)
	if err != nil {
		return err
	}
	if a, ok := m.(*wamp.Abort); !ok || a.Reason != wamp.ErrNoSuchRealm {
		return fmt.Errorf("answered with %v, not ABORT %s", m, wamp.ErrNoSuchRealm)
	}
	return expectClosed(c, s.so.answerTimeout)
}

// subscriptionFlood subscribes to --sub-limit topics and one more, which
// must be refused, then unsubscribes from them all and leaves.
func (s *soak) subscriptionFlood(ctx context.Context) error {
	c, err := dial(ctx, s.o.url, s.o.realm, "msgpack")
	if err != nil {
		return err
	}
	defer c.close()
	defer closeAtEnd(ctx, c)()
	c.setReadDeadline(time.Now().Add(3 * s.so.answerTimeout))
	var subs []wamp.ID
	refused := 0
	err = pipeline(c, s.so.subLimit+1, func(i int) wamp.Message {
		return &wamp.Subscribe{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Topic: s.uri("flood." + strconv.Itoa(i))}
	}, func(m wamp.Message) error {
		switch m := m.(type) {
		case *wamp.Subscribed:
			subs = append(subs, m.Subscription)
		case *wamp.Error:
			if m.Error != errLimitExceeded {
				return fmt.Errorf("SUBSCRIBE answered with ERROR %s", m.Error)
			}
			refused++
		default:
			return fmt.Errorf("SUBSCRIBE answered with %s", m.MessageType())
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(subs) != s.so.subLimit || refused != 1 {
		return fmt.Errorf("%d subscriptions accepted and %d refused, want %d and 1", len(subs), refused, s.so.subLimit)
	}
	err = pipeline(c, len(subs), func(i int) wamp.Message {
		return &wamp.Unsubscribe{Request: wamp.ID(i + 1), Subscription: subs[i]}
	}, expect[*wamp.Unsubscribed]("UNSUBSCRIBE"))
	if err != nil {
		return err
	}
	return goodbye(c, s.so.answerTimeout)
}

// noSuchProcedure calls ten procedures nobody registered.
func (s *soak) noSuchProcedure(ctx context.Context) error {
	c, err := dial(ctx, s.o.url, s.o.realm, "cbor")
	if err != nil {
		return err
	}
	defer c.close()
	defer closeAtEnd(ctx, c)()
	c.setReadDeadline(time.Now().Add(s.so.answerTimeout))
	err = pipeline(c, 10, func(i int) wamp.Message {
		return &wamp.Call{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Procedure: s.uri("nobody." + strconv.Itoa(i))}
	}, func(m wamp.Message) error {
		if e, ok := m.(*wamp.Error); !ok || e.Error != wamp.ErrNoSuchProcedure {
			return fmt.Errorf("CALL answered with %v, not ERROR %s", m, wamp.ErrNoSuchProcedure)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return goodbye(c, s.so.answerTimeout)
}

// oversizedMessage joins and starts a message one byte over the router's
// message size limit (its header and the first 64 KiB).
func (s *soak) oversizedMessage(ctx context.Context) error {
	c, err := dial(ctx, s.o.url, s.o.realm, "msgpack")
	if err != nil {
		return err
	}
	defer c.close()
	defer closeAtEnd(ctx, c)()
	frame := oversizedFrame(c.w, s.so.maxMessage)
	nc := c.w.NetConn()
	_ = nc.SetWriteDeadline(time.Now().Add(s.so.answerTimeout))
	_, _ = nc.Write(frame) // the router may close before it has read it all
	return expectClosed(c, s.so.answerTimeout)
}

// oversizedFrame is the start of a message of one byte over limit: its
// header and 64 KiB of zeros. Over RawSocket the limit is what the router
// announced in the handshake; when that is the 16 MiB most a prefix can
// say, the prefix says 16 MiB and 1 octet all the same, with the 25th
// length bit and a length of 1, which the router refuses as a bad frame.
func oversizedFrame(w wire, limit int64) []byte {
	if rs, ok := w.(rsWire); ok {
		frame := make([]byte, rawsocket.HeaderLen+64<<10)
		h := [4]byte{0x08, 0, 0, 1}
		if n := rs.SendMax(); n < rawsocket.MaxLength {
			h = rawsocket.Header(rawsocket.FrameMessage, n+1)
		}
		copy(frame, h[:])
		return frame
	}
	frame := make([]byte, 14, 14+64<<10)
	frame[0], frame[1] = 0x82, 0x80|127 // FIN, binary; masked, 64-bit length
	binary.BigEndian.PutUint64(frame[2:], uint64(limit+1))
	return frame[:cap(frame)] // a zero mask key, and zeros
}

// silentSession opens the WebSocket or RawSocket and says nothing: the
// router's hello timeout must close it.
func (s *soak) silentSession(ctx context.Context) error {
	c, err := open(ctx, nil, s.o.url, "json")
	if err != nil {
		return err
	}
	defer c.close()
	defer closeAtEnd(ctx, c)()
	return expectClosed(c, 3*s.so.answerTimeout)
}

// silentConnection opens a TCP connection (a Unix one for unix://) and
// sends nothing: the router's HTTP header timeout, or its RawSocket
// handshake timeout, must close it.
func (s *soak) silentConnection(ctx context.Context) error {
	network, addr, err := socketAddress(s.o.url)
	if err != nil {
		return err
	}
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	defer context.AfterFunc(ctx, func() { nc.Close() })()
	_ = nc.SetReadDeadline(time.Now().Add(3 * s.so.answerTimeout))
	if _, err := nc.Read(make([]byte, 512)); isTimeout(err) {
		return fmt.Errorf("the router did not close the connection within %s", 3*s.so.answerTimeout)
	}
	return nil
}

// socketAddress is the network and address a router URL connects to.
func socketAddress(raw string) (network, addr string, err error) {
	if e, ok, err := rawsocket.ParseURL(raw); ok || err != nil {
		return e.Network, e.Address, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	addr = u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "wss" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return "tcp", addr, nil
}

// expectClosed reads until the router closes the connection, at most timeout.
func expectClosed(c *conn, timeout time.Duration) error {
	c.setReadDeadline(time.Now().Add(timeout))
	for {
		if _, err := c.w.ReadMessage(); err != nil {
			if isTimeout(err) {
				return fmt.Errorf("the router did not close the connection within %s", timeout)
			}
			return nil
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// pipeline sends n requests, at most 100 unanswered, and hands each answer
// to take.
func pipeline(c *conn, n int, req func(i int) wamp.Message, take func(wamp.Message) error) error {
	for sent, got := 0, 0; got < n; got++ {
		for ; sent < n && sent-got < 100; sent++ {
			if err := c.send(req(sent)); err != nil {
				return err
			}
		}
		m, err := c.recv()
		if err != nil {
			return err
		}
		if err := take(m); err != nil {
			return err
		}
	}
	return nil
}

// expect is a pipeline's take that wants answers of type T.
func expect[T wamp.Message](what string) func(wamp.Message) error {
	return func(m wamp.Message) error {
		if _, ok := m.(T); !ok {
			return fmt.Errorf("%s answered with %s", what, m.MessageType())
		}
		return nil
	}
}
