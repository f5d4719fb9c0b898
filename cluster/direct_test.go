package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// startDirectPair starts two nodes on NATS url with the direct path on
// 127.0.0.1, and waits until each has its direct connection to the other.
func startDirectPair(t *testing.T, url string, cfg Config) (a, b *Node, ra, rb *recorder) {
	t.Helper()
	cfg.DirectListen = "127.0.0.1:0"
	a, ra = startLinked(t, url, cfg)
	b, rb = startLinked(t, url, cfg)
	formed(t, a, b)
	waitFor(t, "the direct paths are up", func() bool { return a.directUpForTest(b.ID()) && b.directUpForTest(a.ID()) })
	return a, b, ra, rb
}

// TestDirectPath: with direct_listen set on both nodes, what one sends the
// other goes on the direct connection, not through NATS, and arrives once
// and in order; so do the acknowledgements SendAll waits for.
func TestDirectPath(t *testing.T) {
	url := startNATS(t)
	a, b, _, rb := startDirectPair(t, url, Config{})
	const count = 2000
	for i := range count {
		if err := a.Send(b.ID(), []byte(msgN(i))); err != nil {
			t.Fatal(err)
		}
	}
	confirmed := make(chan error, 1)
	a.SendAll([]string{b.ID()}, []byte(msgN(count)), 10*time.Second, func(err error) { confirmed <- err })
	if err := <-confirmed; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message delivered", func() bool { return rb.count(a.ID()) == count+1 })
	checkInOrder(t, rb, a.ID(), count+1)
	st := a.LinkStats()
	if st.DirectFrames == 0 || st.DirectUps != 1 {
		t.Fatalf("nothing went on the direct path: %+v", st)
	}
	if st.Batches > st.DirectFrames {
		t.Fatalf("%d NATS messages of data for %d direct frames: data went through NATS", st.Batches, st.DirectFrames)
	}
}

func msgN(i int) string { return fmt.Sprintf("m%d", i) }

func checkInOrder(t *testing.T, r *recorder, from string, count int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got[from]
	if len(got) != count {
		t.Fatalf("%d messages, want %d", len(got), count)
	}
	for i, m := range got {
		if m != msgN(i) {
			t.Fatalf("message %d is %q: out of order or duplicated", i, m)
		}
	}
}

// TestDirectCutRepaired: the direct connections are cut while messages
// flow: every message still arrives once and in order (what the cut lost
// is sent again), the path comes back at a heartbeat, and meanwhile, with
// the receiver's listener gone, everything goes through NATS.
func TestDirectCutRepaired(t *testing.T) {
	url := startNATS(t)
	a, b, _, rb := startDirectPair(t, url, Config{NodeTimeout: time.Second})
	const count = 3000
	sent := 0
	sendSome := func(k int) {
		for range k {
			if err := a.Send(b.ID(), []byte(msgN(sent))); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	sendSome(count / 3)
	a.cutDirectForTest() // in the middle of the stream
	b.cutDirectForTest()
	sendSome(count / 3)
	waitFor(t, "the direct path back up", func() bool { return a.directUpForTest(b.ID()) })
	if ups := a.LinkStats().DirectUps; ups < 2 {
		t.Fatalf("direct path up %d times, want a new connection after the cut", ups)
	}
	// Now without a listener on b: the path stays down, NATS carries it all.
	if err := b.direct.ln.Close(); err != nil {
		t.Fatal(err)
	}
	a.cutDirectForTest()
	frames := a.LinkStats().DirectFrames
	sendSome(count - sent)
	waitFor(t, "every message delivered", func() bool { return rb.count(a.ID()) == count })
	checkInOrder(t, rb, a.ID(), count)
	if got := a.LinkStats().DirectFrames; got != frames {
		t.Fatalf("%d frames written on a direct path that is down", got-frames)
	}
}

// TestDirectRefusesStrangers: the direct listener takes a connection only
// from a node of this cluster that names this node, whose heartbeat it
// heard; a connected node cannot send in the name of another, nor announce
// a frame larger than NATS would carry. Each of them is cut off and
// nothing it sent is delivered; the well-formed hello of a member, sent
// the same way, is taken (so the test can tell).
func TestDirectRefusesStrangers(t *testing.T) {
	url := startNATS(t)
	a, b, _, rb := startDirectPair(t, url, Config{})
	bID, _ := hex.DecodeString(b.ID())
	aID, _ := hex.DecodeString(a.ID())
	stranger := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	hello := func(name string, from, to []byte) []byte {
		h := append(append([]byte("JCD"), wireVersion, byte(len(name))), name...)
		return append(append(h, from...), to...)
	}
	frame := func(from []byte, data string) []byte {
		f := append(append([]byte{wireVersion}, from...), appendData(nil, outMsg{seq: 999, data: []byte(data)})...)
		return append(binary.AppendUvarint(nil, uint64(len(f))), f...)
	}
	// dial says hello and reports the answer ("" if none: the connection
	// was closed), then writes after and reports whether the connection
	// ends within the test's patience.
	dial := func(t *testing.T, hello, after []byte) (answer byte, closed bool) {
		t.Helper()
		c, err := net.Dial("tcp", b.DirectAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write(hello)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		one := make([]byte, 1)
		if _, err := io.ReadFull(c, one); err != nil {
			return 0, true
		}
		_, _ = c.Write(after)
		_, err = c.Read(one)
		return one[0], err != nil && !isTimeout(err)
	}
	for _, tc := range []struct {
		name   string
		hello  []byte
		after  []byte
		answer byte
	}{
		{"not a node", []byte("GET / HTTP/1.1\r\n\r\n"), nil, 0},
		{"another cluster", hello("other", aID, bID), nil, directRefused},
		{"another node wanted", hello("links", aID, stranger), nil, directRefused},
		{"no heartbeat heard", hello("links", stranger, bID), nil, directRefused},
		{"this node's own id", hello("links", bID, bID), nil, directRefused},
		{"a frame in another's name", hello("links", aID, bID), frame(stranger, "spoofed"), directOK},
		{"a frame over the limit", hello("links", aID, bID), binary.AppendUvarint(nil, uint64(b.maxFrame())+1), directOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer, closed := dial(t, tc.hello, tc.after)
			if answer != tc.answer || !closed {
				t.Fatalf("answer %d (want %d), closed %v", answer, tc.answer, closed)
			}
		})
	}
	// A member's hello and frame, the same way: taken (the frame's number
	// is far ahead, so it is not applied, but it is read: a NACK).
	gaps := b.LinkStats().Gaps
	c, err := net.Dial("tcp", b.DirectAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write(hello("links", aID, bID))
	one := make([]byte, 1)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, one); err != nil || one[0] != directOK {
		t.Fatalf("a member's hello: %v %v", one, err)
	}
	_, _ = c.Write(frame(aID, "in order later"))
	waitFor(t, "the member's frame read", func() bool { return b.LinkStats().Gaps > gaps })
	rb.mu.Lock()
	defer rb.mu.Unlock()
	for _, m := range rb.got[a.ID()] {
		if bytes.Contains([]byte(m), []byte("spoofed")) {
			t.Fatal("a spoofed frame was delivered")
		}
	}
	if len(rb.got[hex.EncodeToString(stranger)]) != 0 {
		t.Fatal("a stranger's message was delivered")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestDirectPeerStopsReading: a peer takes the direct connection and then
// stops reading (a paused or wedged process): once the socket is full, the
// write gives up within the direct timeout, the path goes down, and what
// follows reaches the peer through NATS. The peer here is this test: a
// heartbeat on NATS with its address, a listener that says OK and never
// reads.
func TestDirectPeerStopsReading(t *testing.T) {
	url := startNATS(t)
	a, _ := startLinked(t, url, Config{NodeTimeout: time.Second, DirectListen: "127.0.0.1:0"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = ln.Close()                   // one connection: the dials after it are refused
		_, _ = c.Write([]byte{directOK}) // and never read
		held <- c
	}()
	t.Cleanup(func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	})
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const peer = "0a0b0c0d0e0f1011"
	viaNATS := make(chan struct{}, 1)
	if _, err := nc.Subscribe("junction.links.node."+peer, func(m *nats.Msg) {
		if !bytes.Contains(m.Data, []byte("after")) {
			return
		}
		select {
		case viaNATS <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the peer's heartbeats, so that a keeps it a member
		for {
			_ = nc.Publish("junction.links.hb", []byte(peer+" "+addr))
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	waitFor(t, "the direct path to the peer up", func() bool { return a.directUpForTest(peer) })
	big := make([]byte, 256<<10)
	waitFor(t, "the direct path down after a write that could not finish", func() bool {
		_ = a.Send(peer, big) // fills the socket the peer does not read
		return a.LinkStats().DirectDowns > 0
	})
	if err := a.Send(peer, []byte("after")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-viaNATS:
	case <-time.After(20 * time.Second):
		t.Fatal("nothing reached the peer through NATS after its direct path went down")
	}
}
