package websocket_test

import (
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/websocket"
)

// hub keeps its peers by client address while their session lasts, as a
// router keeps its subscribers.
type hub struct {
	mu    sync.Mutex
	peers map[string]transport.Peer
}

func (h *hub) ServePeer(p transport.Peer) {
	addr := p.Info().RemoteAddr
	h.mu.Lock()
	h.peers[addr] = p
	h.mu.Unlock()
	for {
		if _, err := p.Recv(); err != nil {
			break
		}
	}
	h.mu.Lock()
	delete(h.peers, addr)
	h.mu.Unlock()
}

func (h *hub) peer(addr string) transport.Peer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peers[addr]
}

// smallSendBuffers sets a small kernel send buffer on each connection
// accepted, so that a peer that stops reading fills it quickly.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// startHub starts a server handing its peers to a hub, with small kernel
// send buffers if asked.
func startHub(t testing.TB, cfg websocket.Config, smallBuffers bool) (*websocket.Server, string, *hub) {
	t.Helper()
	h := &hub{peers: map[string]transport.Peer{}}
	s, err := websocket.NewServer(withEngine(cfg), h, websocket.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	if smallBuffers {
		hs.Listener = smallSendBuffers{hs.Listener}
	}
	hs.Start()
	t.Cleanup(hs.Close)
	return s, "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", h
}

// waitFor polls cond until it holds; the deadline only guards against a
// hang.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after 60s", what)
		}
	}
}

// dialPeer connects a client (rcvbuf > 0: that receive buffer) and returns
// it with the server's peer for it.
func dialPeer(t testing.TB, url string, h *hub, rcvbuf int) (*gws.Conn, transport.Peer) {
	t.Helper()
	nd := &net.Dialer{}
	if rcvbuf > 0 {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
		}
	}
	d := gws.Dialer{NetDialContext: nd.DialContext, Subprotocols: []string{"wamp.2.json"}, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var p transport.Peer
	waitFor(t, "the server's peer", func() bool { p = h.peer(c.LocalAddr().String()); return p != nil })
	return c, p
}

func eventFrame(seq int, pad string) *transport.Frame {
	return transport.NewFrame([]byte(`[36,1,`+strconv.Itoa(seq)+`,{},[`+strconv.Itoa(seq)+`,"`+pad+`"]]`), false)
}

// eventSeq is the publication number of an event eventFrame made.
func eventSeq(msg []byte) int {
	f := strings.SplitN(string(msg), ",", 4)
	if len(f) < 3 {
		return -1
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		return -1
	}
	return n
}

// readEvents reads n events and checks they are numbered 1 to n.
func readEvents(c *gws.Conn, n int) error {
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second)) // a guard against a hang
	for i := 1; i <= n; i++ {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("after %d events: %w", i-1, err)
		}
		if got := eventSeq(msg); got != i {
			return fmt.Errorf("event %d where %d was due", got, i)
		}
	}
	return nil
}

// TestStalledSubscribers is the fan-out attack at a small scale: stalled
// subscribers (they subscribed, then never read; small receive buffers)
// and readers that keep up share a flood of events. Every reader gets every
// event, in order, and is not cut; every stalled subscriber is cut as a slow
// consumer (counted, close 1008) although its queue never reached its bound,
// and what the transport holds for them once they are cut is the writes
// they are stuck in, not their queues. It measures the heap: not parallel.
func TestStalledSubscribers(t *testing.T) {
	const stalledN, readersN, events = 200, 5, 500
	cfg := websocket.DefaultConfig()
	cfg.QueueMessages, cfg.QueueBytes = 2*events, 8<<20 // a stalled queue stays under its bound
	cfg.SlowConsumerTimeout = 2 * time.Second
	cfg.WriteTimeout = time.Minute // the write deadline does not end the stalled ones
	cfg.DisableCompression = true
	s, url, h := startHub(t, cfg, true)

	stalled := make([]*gws.Conn, stalledN)
	var peers []transport.Peer
	for i := range stalled {
		var p transport.Peer
		stalled[i], p = dialPeer(t, url, h, 4096)
		peers = append(peers, p)
	}
	readErrs := make(chan error, readersN)
	var readerPeers []transport.Peer
	for range readersN {
		c, p := dialPeer(t, url, h, 0)
		readerPeers = append(readerPeers, p)
		go func() { readErrs <- readEvents(c, events) }()
	}
	peers = append(peers, readerPeers...)
	before := heapInUse()

	pad := strings.Repeat("x", 2000)
	for seq := 1; seq <= events; seq++ {
		f := eventFrame(seq, pad)
		for i, p := range peers {
			if err := p.SendFrame(f); err != nil && i >= stalledN {
				t.Fatalf("event %d to reader %d: %v", seq, i-stalledN, err)
			}
		}
	}
	for range readersN {
		if err := <-readErrs; err != nil {
			t.Fatalf("reader: %v", err)
		}
	}
	waitFor(t, "the stalled subscribers to be cut", func() bool { return s.Stats().SlowConsumerDisconnects.Load() >= stalledN })
	if n := s.Stats().SlowConsumerDisconnects.Load(); n != stalledN {
		t.Fatalf("%d slow-consumer disconnects for %d stalled subscribers: a reader was cut", n, stalledN)
	}
	checkHeldForStalled(t, before, events*(len(pad)+30), stalledN)
	for _, p := range readerPeers {
		select {
		case <-p.Done():
			t.Fatal("a reader that kept up was disconnected")
		default:
		}
	}
	checkStalledCut(t, stalled)
	waitFor(t, "nothing pending", func() bool { m, b := s.Pending(); return m == 0 && b == 0 })
}

// checkHeldForStalled: once the stalled subscribers are cut, the heap holds
// the events once (shared, each with its prepared framing: at most 4 times
// its size) and, per stalled subscriber, the bookkeeping of the write it is
// stuck in (under 16 KiB): not its queue, nor a copy of the frames.
func checkHeldForStalled(t *testing.T, before uint64, eventBytes, stalled int) {
	t.Helper()
	after := heapInUse()
	allowed := uint64(4*eventBytes + stalled*16<<10)
	if after > before && after-before > allowed {
		t.Fatalf("the heap grew by %d KiB for %d stalled subscribers of %d KiB of events, want at most %d KiB",
			(after-before)>>10, stalled, eventBytes>>10, allowed>>10)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// checkStalledCut: a stalled subscriber that reads again gets the events
// it was sent before the cut, in order, then close 1008.
func checkStalledCut(t *testing.T, stalled []*gws.Conn) {
	t.Helper()
	for i, c := range stalled {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		for next := 1; ; next++ {
			_, msg, err := c.ReadMessage()
			var ce *gws.CloseError
			if errors.As(err, &ce) && ce.Code == gws.ClosePolicyViolation {
				break
			}
			if err != nil {
				t.Fatalf("stalled subscriber %d: %v after %d events, want close 1008", i, err, next-1)
			}
			if got := eventSeq(msg); got != next {
				t.Fatalf("stalled subscriber %d: event %d where %d was due", i, got, next)
			}
		}
	}
}

// BenchmarkFanOut is one event queued to 50 subscribers on real
// connections, each reading it: the write path of a fan-out (a shared
// frame, prepared once, written by each subscriber's writer).
func BenchmarkFanOut(b *testing.B) {
	const subs = 50
	_, url, h := startHub(b, websocket.DefaultConfig(), false)
	got := make(chan struct{}, subs)
	var peers []transport.Peer
	for range subs {
		c, p := dialPeer(b, url, h, 0)
		peers = append(peers, p)
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				got <- struct{}{}
			}
		}()
	}
	event := []byte(`[36,1,2,{},["` + strings.Repeat("x", 200) + `"]]`)
	b.ReportAllocs()
	for b.Loop() {
		f := transport.NewFrame(event, false)
		for _, p := range peers {
			if err := p.SendFrame(f); err != nil {
				b.Fatal(err)
			}
		}
		for range subs {
			<-got
		}
	}
}

// TestStalledCutOutlivesReadDeadline: a stalled subscriber cut as a slow
// consumer gets the rest of the event it was being sent (on gorilla, whose
// writer may not have taken it before the cut, possibly none) and its close 1008
// when it reads again, even after the read deadline (ping_interval +
// pong_timeout since its last frame) has passed meanwhile: the closing
// connection waits for the client within the write timeout, not the read
// deadline. On the nbio engine the rest of the event and the close frame
// wait in nbio's buffer, not the kernel's, and nbio's read deadline used to
// close the connection under them (1006; hostile TestStalledSubscribers
// under load).
func TestStalledCutOutlivesReadDeadline(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	// The cut comes before the read deadline (with room for a loaded
	// machine), which comes before the client reads again.
	cfg.PingInterval, cfg.PongTimeout = 3*time.Second, 3*time.Second
	cfg.QueueMessages, cfg.QueueBytes = 1000, 128<<10
	cfg.SlowConsumerTimeout = time.Second
	cfg.WriteTimeout = time.Minute
	cfg.DisableCompression = true
	s, url, h := startHub(t, cfg, true)
	stalled, p := dialPeer(t, url, h, 4096)
	pad := strings.Repeat("x", 100<<10) // more than the socket buffers take
	if err := p.SendFrame(eventFrame(1, pad)); err != nil {
		t.Fatal(err)
	}
	if err := readEvents(stalled, 1); err != nil { // the writer runs
		t.Fatal(err)
	}
	// Event 2 is written, in part: the client has stopped reading.
	if err := p.SendFrame(eventFrame(2, pad)); err != nil {
		t.Fatal(err)
	}
	if testEngine == websocket.EngineNbio { // handed to nbio, which holds what the socket did not take
		waitFor(t, "event 2 handed to nbio", func() bool { m, _ := s.Pending(); return m == 0 })
	}
	// The next events take the queue to twice its bound: the client is
	// cut at once, with event 2 still on its way.
	for seq := 3; seq <= 10 && s.Stats().SlowConsumerDisconnects.Load() == 0; seq++ {
		_ = p.SendFrame(eventFrame(seq, pad))
	}
	waitFor(t, "the stalled subscriber to be cut", func() bool { return s.Stats().SlowConsumerDisconnects.Load() == 1 })
	// A client dialed now that neither reads nor writes is closed at its
	// read deadline, which ends after the stalled one's.
	_, idle := dialPeer(t, url, h, 0)
	select {
	case <-idle.Done():
	case <-time.After(time.Minute): // a guard against a hang
		t.Fatal("a silent client was not closed at its read deadline")
	}
	_ = stalled.SetReadDeadline(time.Now().Add(60 * time.Second))
	for next := 2; ; next++ {
		_, msg, err := stalled.ReadMessage()
		var ce *gws.CloseError
		if errors.As(err, &ce) && ce.Code == gws.ClosePolicyViolation {
			break
		}
		if err != nil || eventSeq(msg) != next {
			t.Fatalf("after the cut: %.40q, %v; want event %d or close 1008", msg, err, next)
		}
	}
}
