// Package cluster joins a Junction node to the other nodes of a cluster over
// NATS: it connects (or runs an embedded nats-server), tells the router which
// nodes are alive, and carries the router's messages to one node or to all.
// What the messages mean is the router's business (router/cluster.go); this
// package only moves bytes and watches heartbeats.
package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Config is the [cluster] section of config.toml.
type Config struct {
	// Name names the cluster: nodes with the same name on the same NATS
	// form one router. Default "junction".
	Name string
	// NATSURL is the NATS server to connect to (nats://host:port, several
	// separated by commas). Empty with Embedded: the embedded server.
	NATSURL string
	// Embedded runs a NATS server inside this process.
	Embedded bool
	// Listen is the embedded server's client address (host:port). Default 127.0.0.1:4222.
	Listen string
	// ClusterListen is the embedded server's route address, where the other
	// nodes' embedded servers connect (host:port); empty: no routes.
	ClusterListen string
	// Routes are the route URLs of the other embedded servers (nats://host:port).
	Routes []string
	// NodeTimeout is how long a node may stay silent before it is taken for
	// dead. Heartbeats go out every NodeTimeout/5, at least every second.
	// Default 5s.
	NodeTimeout time.Duration
	// ResendBuffer bounds the bytes of messages to one node kept until it
	// acknowledges them, to send them again if they are lost. Past it the
	// oldest are dropped, and a loss of one of them is repaired by a
	// snapshot instead. Default 64 MiB.
	ResendBuffer int
	// RepairInterval is how often the handler's Repair runs (digests of
	// the routing state compared, calls in flight audited). Default 1s.
	RepairInterval time.Duration
	// DirectListen, if set, is where this node takes the direct
	// connections of the other nodes (host:port): what a node sends
	// another then goes over TCP between them rather than through NATS,
	// when both have it set (direct.go). Empty: every message through NATS.
	DirectListen string
	// DirectAdvertise is the address the other nodes dial to reach
	// DirectListen (host:port); empty: DirectListen's own address, which
	// then may not be a wildcard such as 0.0.0.0.
	DirectAdvertise string
	// Faults, for tests, stands between the node and NATS (nil: nothing
	// in between), on the direct path too. See Faults.
	Faults Faults
}

// Faults injects faults between a node and NATS, for tests: every message
// the node publishes goes through Out, every message it receives through In.
// Subjects are <prefix>.hb (heartbeats and goodbyes, to every node) and
// <prefix>.node.<id> (everything else, to node id, through NATS or on the
// direct path), prefix being "junction.<cluster name>".
type Faults interface {
	// Out calls publish with what to publish instead of data: not at all
	// (a loss), once (now or later: a delay, a reorder), or more (a
	// duplicate). publish may be called from any goroutine, at any time.
	Out(subject string, data []byte, publish func([]byte))
	// In reports whether a message received on subject is handled (false:
	// it is lost).
	In(subject string, data []byte) bool
}

// Handler is what the node reports to; the router implements it. Calls come
// from the node's NATS goroutines: Deliver in the order each sender sent.
type Handler interface {
	// NodeUp: a node was heard from for the first time (or again, after it
	// was taken for dead).
	NodeUp(id string)
	// NodeDown: a node said goodbye or stayed silent past NodeTimeout.
	NodeDown(id string, goodbye bool)
	// Deliver: a message from node from.
	Deliver(from string, data []byte)
	// Lost: messages this node sent node id are lost for good (what it
	// could send again did not reach back far enough); what is sent to id
	// from now on arrives after a gap.
	Lost(id string)
	// Missed: messages node id sent this node are lost for good.
	Missed(id string)
	// Repair is called every RepairInterval, outside the other calls'
	// order (the handler compares digests of its state with the other
	// nodes', audits calls in flight).
	Repair()
}

// Node is this process's membership of the cluster.
type Node struct {
	cfg    Config
	log    *slog.Logger
	id     string
	prefix string
	// nodePrefix is prefix+".node.", the start of the subjects of one node.
	nodePrefix string
	// direct is the direct path (direct.go), nil without DirectListen.
	direct *direct
	ns     *server.Server // nil without an embedded server
	nc     *nats.Conn

	rawID [idBytes]byte
	// linkInterval: how often links send syncs and acknowledgements owed;
	// heartbeats go every heartbeatTicks of it.
	linkInterval time.Duration

	// hmu serializes the calls to the handler: they come from the data
	// subscription, the heartbeat subscription and the heartbeat timer.
	hmu sync.Mutex

	mu      sync.Mutex
	h       Handler
	members map[string]time.Time // node id -> last heard
	left    map[string]bool      // nodes that said goodbye: their ids never come back
	out     map[string]*outLink
	in      map[string]*inLink
	byeWait map[string]bool // Close: the nodes whose acknowledgement of the goodbye is awaited
	byeDone chan struct{}
	// lastTick: when the heartbeat loop last ran (a pause of this process
	// shows as a late tick).
	lastTick time.Time

	sent                                                atomic.Uint64 // messages sent to other nodes (heartbeats aside)
	batches                                             atomic.Uint64 // NATS messages or direct frames of data records (sends and resends)
	resent, resets, gaps, duplicates, overflows, stalls atomic.Uint64
	directFrames, directUps, directDowns                atomic.Uint64
	subs                                                []*nats.Subscription
	stop                                                chan struct{}
	wg                                                  sync.WaitGroup
	closed                                              bool
}

// heartbeatTicks: a heartbeat every this many link intervals.
const heartbeatTicks = 4

// Start connects to the cluster's NATS (starting the embedded server first if
// configured). The node is silent until Run.
func Start(cfg Config, log *slog.Logger) (*Node, error) {
	if cfg.Name == "" {
		cfg.Name = "junction"
	}
	if strings.ContainsAny(cfg.Name, ".*> \t") {
		return nil, fmt.Errorf("cluster: name %q may not contain '.', '*', '>' or spaces", cfg.Name)
	}
	if len(cfg.Name) > 255 {
		return nil, fmt.Errorf("cluster: name %q is longer than 255 bytes", cfg.Name)
	}
	if cfg.NodeTimeout == 0 {
		cfg.NodeTimeout = 5 * time.Second
	}
	if cfg.NodeTimeout < 50*time.Millisecond {
		return nil, fmt.Errorf("cluster: node_timeout %s is too short", cfg.NodeTimeout)
	}
	if cfg.ResendBuffer == 0 {
		cfg.ResendBuffer = 64 << 20
	}
	if cfg.RepairInterval == 0 {
		cfg.RepairInterval = time.Second
	}
	if cfg.RepairInterval < 10*time.Millisecond {
		return nil, fmt.Errorf("cluster: repair_interval %s is too short", cfg.RepairInterval)
	}
	if log == nil {
		log = slog.Default()
	}
	n := &Node{cfg: cfg, log: log.With("component", "cluster"), prefix: "junction." + cfg.Name, nodePrefix: "junction." + cfg.Name + ".node.",
		linkInterval: min(cfg.NodeTimeout/(5*heartbeatTicks), maxLinkInterval),
		members:      make(map[string]time.Time), left: make(map[string]bool),
		out: make(map[string]*outLink), in: make(map[string]*inLink), stop: make(chan struct{})}
	_, _ = rand.Read(n.rawID[:])
	n.id = hex.EncodeToString(n.rawID[:])
	url := cfg.NATSURL
	var opts []nats.Option
	if cfg.Embedded {
		ns, err := startEmbedded(cfg, n.id)
		if err != nil {
			return nil, err
		}
		n.ns = ns
		if url == "" {
			opts = append(opts, nats.InProcessServer(ns))
		}
	} else if url == "" {
		return nil, errors.New("cluster: set nats_url or embedded_nats")
	}
	opts = append(opts,
		nats.Name("junction-"+n.id),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.NodeTimeout/10),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.log.Warn("disconnected from NATS", "error", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { n.log.Info("reconnected to NATS", "url", c.ConnectedUrl()) }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subject := ""
			if s != nil {
				subject = s.Subject
			}
			n.log.Error("NATS error", "subject", subject, "error", err)
		}),
	)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		n.shutdownServer()
		return nil, fmt.Errorf("cluster: connecting to NATS: %w", err)
	}
	n.nc = nc
	if cfg.DirectListen != "" {
		if err := n.startDirect(); err != nil {
			nc.Close()
			n.shutdownServer()
			return nil, err
		}
	}
	return n, nil
}

func startEmbedded(cfg Config, id string) (*server.Server, error) {
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, port, err := splitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: nats_listen: %w", err)
	}
	opts := &server.Options{ServerName: "junction-" + id, Host: host, Port: port, NoLog: true, NoSigs: true,
		MaxPayload: 64 << 20}
	if cfg.ClusterListen != "" {
		ch, cp, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("cluster: nats_cluster_listen: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.Name, Host: ch, Port: cp}
	}
	if len(cfg.Routes) > 0 {
		opts.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("cluster: embedded NATS did not start on %s", listen)
	}
	return ns, nil
}

func splitHostPort(a string) (string, int, error) {
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// ID is this node's id, new at every start.
func (n *Node) ID() string { return n.id }

// ClientURL is the embedded NATS server's client URL, "" without one.
func (n *Node) ClientURL() string {
	if n.ns == nil {
		return ""
	}
	return n.ns.ClientURL()
}

// ClusterURL is the embedded NATS server's route URL, "" without routes.
func (n *Node) ClusterURL() string {
	if n.ns == nil || n.ns.ClusterAddr() == nil {
		return ""
	}
	return "nats://" + n.ns.ClusterAddr().String()
}

// Run subscribes and starts heartbeats; h hears of nodes and messages from now on.
func (n *Node) Run(h Handler) error {
	n.mu.Lock()
	n.h = h
	n.mu.Unlock()
	data, err := n.nc.Subscribe(n.prefix+".node."+n.id, func(m *nats.Msg) {
		if f := n.cfg.Faults; f != nil && !f.In(m.Subject, m.Data) {
			return
		}
		n.receive(m.Data)
	})
	if err != nil {
		return err
	}
	// Losing a message would lose a call or an event: no pending limit.
	_ = data.SetPendingLimits(-1, -1)
	hb, err := n.nc.Subscribe(n.prefix+".hb", func(m *nats.Msg) {
		if f := n.cfg.Faults; f != nil && !f.In(m.Subject, m.Data) {
			return
		}
		id, bye := string(m.Data), false
		if rest, ok := strings.CutPrefix(id, "bye "); ok {
			id, bye = rest, true
		}
		id, addr, _ := strings.Cut(id, " ") // a heartbeat: "<id>" or "<id> <direct address>"
		if id == n.id {
			return
		}
		if bye { // the goodbye of a node whose own message did not come (it goes both ways)
			n.hmu.Lock()
			n.down(id, true)
			n.hmu.Unlock()
			return
		}
		// A heartbeat is recorded at once, not behind the handler: a node
		// busy applying another's messages must not take it for dead.
		isNew, ok := n.touch(id)
		if ok && isNew {
			n.hmu.Lock()
			n.up(id)
			n.hmu.Unlock()
		}
		if ok {
			n.learnDirect(id, addr)
		}
	})
	if err != nil {
		return err
	}
	_ = hb.SetPendingLimits(-1, -1)
	n.mu.Lock()
	n.subs = []*nats.Subscription{data, hb}
	n.mu.Unlock()
	if err := n.nc.Flush(); err != nil {
		return err
	}
	n.wg.Add(2)
	go n.beat()
	go n.repairLoop(h)
	if n.direct != nil {
		n.wg.Add(1)
		go n.acceptLoop()
	}
	return nil
}

// repairLoop calls h.Repair every RepairInterval.
func (n *Node) repairLoop(h Handler) {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.RepairInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			h.Repair()
		}
	}
}

// Silence is how long node id has been silent: 0 if heard from within a
// heartbeat interval (or unknown).
func (n *Node) Silence(id string) time.Duration {
	n.mu.Lock()
	heard, ok := n.members[id]
	n.mu.Unlock()
	if d := time.Since(heard); ok && d > heartbeatTicks*n.linkInterval {
		return d
	}
	return 0
}

// Suspect reports whether node id has been silent for more than two
// heartbeats (not waited for any more: most likely dead), and then the
// longest it may take until it is dropped unless it is heard from again.
func (n *Node) Suspect(id string) (dropWithin time.Duration, suspect bool) {
	n.mu.Lock()
	heard, ok := n.members[id]
	n.mu.Unlock()
	silent := time.Since(heard)
	if !ok || silent <= 2*heartbeatTicks*n.linkInterval {
		return 0, false
	}
	// Silent nodes are looked for every heartbeat (heartbeatTicks ticks).
	return max(n.cfg.NodeTimeout-silent, 0) + heartbeatTicks*n.linkInterval, true
}

// unwaitedLocked reports whether a wait for confirmations gives up on
// member id at now: it has been silent for more than two heartbeats
// (most likely dead, dropped once silent for node_timeout) while another
// node was heard from within three quarters of a heartbeat interval
// (less than the interval: this node's own deafness of more than one
// heartbeat, which the first condition needs, silences every other node
// for more than one). When no other node is
// heard either, the silence may be this node's own: its reading fell
// behind (a backlog on its NATS connection, a starved process) or it is
// cut off; it then waits for every node until it is heard from or
// dropped, so that what a client is told next (REGISTERED, WELCOME...)
// holds on every node that is alive. Under mu.
func (n *Node) unwaitedLocked(id string, now time.Time) bool {
	heard, ok := n.members[id]
	if !ok || now.Sub(heard) <= 2*heartbeatTicks*n.linkInterval {
		return false
	}
	for other, h := range n.members {
		if other != id && now.Sub(h) < (heartbeatTicks-1)*n.linkInterval {
			return true
		}
	}
	return false
}

// touch records that node id is alive now; isNew when it was not a member.
// ok is false for a node that said goodbye (a late message of it).
func (n *Node) touch(id string) (isNew, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.left[id] {
		return false, false
	}
	_, known := n.members[id]
	n.members[id] = time.Now()
	return !known, true
}

// member reports whether node id is alive as far as this node knows.
func (n *Node) member(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.members[id]
	return ok
}

// up tells the handler of a new node, unless it went away meanwhile. Under hmu.
func (n *Node) up(id string) {
	if !n.member(id) {
		return
	}
	n.mu.Lock()
	h := n.h
	n.mu.Unlock()
	if h != nil {
		n.log.Info("node joined the cluster", "node", id)
		h.NodeUp(id)
	}
}

// down forgets node id; bye: for good. Under hmu.
func (n *Node) down(id string, bye bool) {
	n.mu.Lock()
	last, known := n.members[id]
	if !bye && known && time.Since(last) <= n.cfg.NodeTimeout {
		n.mu.Unlock()
		return // heard from since it was found silent
	}
	delete(n.members, id)
	if bye {
		n.left[id] = true
	}
	done := n.forgetLinkLocked(id, bye)
	n.forgetDirectLocked(id)
	h := n.h
	n.mu.Unlock()
	for _, w := range done { // a wait on a node that is gone ends now
		w.done(nil)
	}
	if known && h != nil {
		n.log.Warn("node left the cluster", "node", id, "goodbye", bye)
		h.NodeDown(id, bye)
	}
}

// beat sends heartbeats, runs the links' timers and takes silent nodes for
// dead.
func (n *Node) beat() {
	defer n.wg.Done()
	t := time.NewTicker(n.linkInterval)
	defer t.Stop()
	n.heartbeat()
	n.mu.Lock()
	n.lastTick = time.Now()
	n.mu.Unlock()
	for ticks := 1; ; ticks++ {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		n.mu.Lock()
		late := now.Sub(n.lastTick)
		n.lastTick = now
		if late > n.cfg.NodeTimeout/2 {
			// This process was paused (SIGSTOP, a suspended VM, a long
			// stall): the others' silence is ours. Give them a full
			// node_timeout from now to be heard again rather than drop
			// them all and announce their sessions gone.
			n.stalls.Add(1)
			n.log.Warn("this node was paused: not taking the other nodes for dead for it", "paused", late.Round(time.Millisecond))
			for id := range n.members {
				n.members[id] = now
			}
		}
		n.mu.Unlock()
		n.tick()
		if ticks%heartbeatTicks != 0 {
			continue
		}
		n.heartbeat()
		var dead []string
		n.mu.Lock()
		for id, heard := range n.members {
			if now.Sub(heard) > n.cfg.NodeTimeout {
				dead = append(dead, id)
			}
		}
		n.mu.Unlock()
		if len(dead) == 0 {
			// hmu is not taken: a handler slow to apply a message holds
			// it, and heartbeats must go on meanwhile.
			continue
		}
		n.hmu.Lock()
		for _, id := range dead {
			n.down(id, false)
		}
		n.hmu.Unlock()
	}
}

// heartbeat tells every node this one is alive, and where its direct
// path takes connections: "<id>" or "<id> <address>".
func (n *Node) heartbeat() {
	hb := n.id
	if a := n.DirectAddr(); a != "" {
		hb += " " + a
	}
	n.publish(n.prefix+".hb", []byte(hb), true)
}

// Members are the nodes alive now, this one excluded.
func (n *Node) Members() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.members))
	for id := range n.members {
		out = append(out, id)
	}
	return out
}

// Send queues data for node to, on the link from this node to it: it
// arrives once, in the order sent, or the link is reset (Handler.Lost).
// It fails only for a message larger than NATS carries.
func (n *Node) Send(to string, data []byte) error {
	n.sent.Add(1)
	return n.send(to, data, nil)
}

// SendAll sends data to each node of to, in order with Send, and calls
// done once each has applied it, or has been dropped, or with an error
// naming how many did not within timeout (at once once the node is
// closed). A node that is not waited for (unwaitedLocked: silent while
// the others are heard) is sent the message but not waited for. done
// runs on another goroutine (or this one when nothing is waited for) and
// must not block.
func (n *Node) SendAll(to []string, data []byte, timeout time.Duration, done func(error)) {
	w := &ackWait{left: make(map[string]bool, len(to)), done: done, total: len(to)}
	now := time.Now()
	n.mu.Lock()
	if n.closed { // it left the cluster: nobody will confirm
		n.mu.Unlock()
		done(errClosed)
		return
	}
	waited := make([]bool, len(to)) // w.left changes under n.mu as confirmations come
	for i, id := range to {
		if _, ok := n.members[id]; ok && !n.unwaitedLocked(id, now) {
			w.left[id], waited[i] = true, true
		}
	}
	waiting := len(w.left) > 0
	if waiting {
		w.timer = time.AfterFunc(timeout, func() {
			n.mu.Lock()
			left, ended := len(w.left), w.ended
			w.ended = true
			n.mu.Unlock()
			if ended {
				return
			}
			done(fmt.Errorf("cluster: %d of %d nodes did not confirm within %s", left, w.total, timeout))
		})
	}
	n.mu.Unlock()
	n.sent.Add(uint64(len(to)))
	for i, id := range to {
		var err error
		if waited[i] {
			err = n.send(id, data, w)
		} else {
			err = n.send(id, data, nil)
		}
		if err != nil {
			n.log.Warn("cluster message not sent", "node", id, "error", err)
		}
	}
	if !waiting {
		done(nil)
	}
}

// errClosed: the node left the cluster (Close).
var errClosed = errors.New("cluster: node closed")

// MaxPayload is the largest message the NATS server takes.
func (n *Node) MaxPayload() int64 { return n.nc.MaxPayload() }

// Sent is the number of messages this node has sent to others, heartbeats
// aside.
func (n *Node) Sent() uint64 { return n.sent.Load() }

// HeartbeatInterval is how often this node tells the others it is alive:
// within it, a node that starts has heard of every node alive.
func (n *Node) HeartbeatInterval() time.Duration { return heartbeatTicks * n.linkInterval }

// NodeTimeout is how long a node may stay silent before it is dropped.
func (n *Node) NodeTimeout() time.Duration { return n.cfg.NodeTimeout }

// Close leaves the cluster: a goodbye, so the others forget this node at
// once, then the connection and the embedded server.
func (n *Node) Close() { n.leave(true) }

func (n *Node) leave(goodbye bool) {
	n.mu.Lock()
	closed := n.closed
	n.closed = true
	n.mu.Unlock()
	if closed {
		return
	}
	if goodbye {
		n.goodbye()
	}
	close(n.stop)
	n.closeDirect()
	n.wg.Wait()
	if goodbye {
		_ = n.nc.Publish(n.prefix+".hb", []byte("bye "+n.id))
		_ = n.nc.FlushTimeout(time.Second) // NATS may be gone: the others then time this node out
	}
	n.nc.Close()
	n.shutdownServer()
	st := n.LinkStats()
	n.log.Info("cluster node stopped", "messages_sent", st.Sent, "batches", st.Batches, "direct_frames", st.DirectFrames,
		"direct_downs", st.DirectDowns, "resent", st.Resent, "gaps", st.Gaps)
}

// goodbye tells every node this one leaves, after its last message, and
// waits until each has acknowledged it (so it dropped this node at once),
// repeating it every link interval, for at most byeTimeout.
func (n *Node) goodbye() {
	n.mu.Lock()
	n.byeWait = make(map[string]bool)
	n.byeDone = make(chan struct{})
	for id := range n.members {
		n.byeWait[id] = true
	}
	if len(n.byeWait) == 0 {
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()
	deadline := time.After(min(n.cfg.NodeTimeout, byeTimeout))
	t := time.NewTicker(min(n.linkInterval, byeTimeout/20))
	defer t.Stop()
	for {
		n.mu.Lock()
		var to []string
		var seqs []uint64
		for id := range n.byeWait {
			to = append(to, id)
			seqs = append(seqs, n.outLinkLocked(id).next)
		}
		n.mu.Unlock()
		for i, id := range to { // behind the messages still queued for id
			n.controlAfter(id, appendRecord(nil, recBye, seqs[i]))
		}
		select {
		case <-n.byeDone:
			return
		case <-deadline:
			n.log.Warn("some nodes did not acknowledge this node's goodbye: they will time it out", "nodes", len(to))
			return
		case <-t.C:
		}
	}
}

// byeTimeout bounds the wait for the other nodes' acknowledgement of a
// goodbye, repeated every twentieth of it at least.
const byeTimeout = 2 * time.Second

// maxLinkInterval caps the link interval (a twentieth of node_timeout), so a
// long node_timeout does not slow the repair of lost messages.
const maxLinkInterval = 250 * time.Millisecond

// LinkStats are counts of what the links repaired since this node started.
type LinkStats struct {
	// Resent: NACKs answered by sending messages again.
	Resent uint64
	// Resets: gaps that could not be filled (Handler.Lost).
	Resets uint64
	// Gaps: messages received after a gap (dropped, then sent again).
	Gaps uint64
	// Duplicates: messages received twice (dropped).
	Duplicates uint64
	// Overflows: resend buffers that overflowed.
	Overflows uint64
	// Stalls: pauses of this process longer than half the node timeout.
	Stalls uint64
	// Sent: messages sent to other nodes; Batches: the NATS messages or
	// direct frames that carried them, resends included (several messages
	// to one node travel together).
	Sent, Batches uint64
	// DirectFrames: the frames written on the direct path (the rest went
	// through NATS); DirectUps: direct connections made; DirectDowns:
	// direct connections that failed a write.
	DirectFrames, DirectUps, DirectDowns uint64
}

// LinkStats returns the counts of what the links repaired.
func (n *Node) LinkStats() LinkStats {
	return LinkStats{Resent: n.resent.Load(), Resets: n.resets.Load(), Gaps: n.gaps.Load(),
		Duplicates: n.duplicates.Load(), Overflows: n.overflows.Load(), Stalls: n.stalls.Load(),
		Sent: n.sent.Load(), Batches: n.batches.Load(),
		DirectFrames: n.directFrames.Load(), DirectUps: n.directUps.Load(), DirectDowns: n.directDowns.Load()}
}

func (n *Node) shutdownServer() {
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}
