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
	// dead. Heartbeats go out every NodeTimeout/5. Default 5s.
	NodeTimeout time.Duration
	// Faults, for tests, stands between the node and NATS (nil: nothing
	// in between). See Faults.
	Faults Faults
}

// Faults injects faults between a node and NATS, for tests: every message
// the node publishes goes through Out, every message it receives through In.
// Subjects are <prefix>.hb (heartbeats and goodbyes, to every node) and
// <prefix>.node.<id> (everything else, to node id), prefix being
// "junction.<cluster name>".
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
	NodeDown(id string)
	// Deliver: a message from node from.
	Deliver(from string, data []byte)
}

// Node is this process's membership of the cluster.
type Node struct {
	cfg    Config
	log    *slog.Logger
	id     string
	prefix string
	ns     *server.Server // nil without an embedded server
	nc     *nats.Conn

	// hmu serializes the calls to the handler: they come from the data
	// subscription, the heartbeat subscription and the heartbeat timer.
	hmu sync.Mutex

	mu      sync.Mutex
	h       Handler
	members map[string]time.Time // node id -> last heard
	left    map[string]bool      // nodes that said goodbye: their ids never come back
	waits   map[string]*ackWait  // SendAll confirmations awaited, by token
	tokens  uint64

	sent   atomic.Uint64 // messages sent to other nodes (heartbeats aside)
	subs   []*nats.Subscription
	stop   chan struct{}
	wg     sync.WaitGroup
	closed bool
}

// Start connects to the cluster's NATS (starting the embedded server first if
// configured). The node is silent until Run.
func Start(cfg Config, log *slog.Logger) (*Node, error) {
	if cfg.Name == "" {
		cfg.Name = "junction"
	}
	if strings.ContainsAny(cfg.Name, ".*> \t") {
		return nil, fmt.Errorf("cluster: name %q may not contain '.', '*', '>' or spaces", cfg.Name)
	}
	if cfg.NodeTimeout == 0 {
		cfg.NodeTimeout = 5 * time.Second
	}
	if cfg.NodeTimeout < 50*time.Millisecond {
		return nil, fmt.Errorf("cluster: node_timeout %s is too short", cfg.NodeTimeout)
	}
	if log == nil {
		log = slog.Default()
	}
	n := &Node{cfg: cfg, log: log.With("component", "cluster"), id: newNodeID(), prefix: "junction." + cfg.Name,
		members: make(map[string]time.Time), left: make(map[string]bool), waits: make(map[string]*ackWait), stop: make(chan struct{})}
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

// idLen is the length of a node id and of an ack token: 16 hex digits.
const (
	idLen     = 16
	headerLen = 2*idLen + 2
	noAck     = "0000000000000000"
)

func newNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
		if len(m.Data) < headerLen || m.Data[idLen] != ' ' || m.Data[2*idLen+1] != ' ' {
			n.log.Warn("malformed cluster message ignored", "bytes", len(m.Data))
			return
		}
		from, token := string(m.Data[:idLen]), m.Data[idLen+1:2*idLen+1]
		isNew, ok := n.touch(from)
		if !ok {
			return // a late message of a node that said goodbye
		}
		n.hmu.Lock()
		if isNew {
			n.up(from)
		}
		if ok = n.member(from); ok {
			h.Deliver(from, m.Data[headerLen:])
		}
		n.hmu.Unlock()
		if ok && string(token) != noAck {
			_ = n.nc.Publish(n.prefix+".ack."+from, token)
		}
	})
	if err != nil {
		return err
	}
	// Losing a message would lose a call or an event: no pending limit.
	_ = data.SetPendingLimits(-1, -1)
	hb, err := n.nc.Subscribe(n.prefix+".hb", func(m *nats.Msg) {
		id, bye := string(m.Data), false
		if rest, ok := strings.CutPrefix(id, "bye "); ok {
			id, bye = rest, true
		}
		if id == n.id {
			return
		}
		if bye {
			n.hmu.Lock()
			n.down(id, true)
			n.hmu.Unlock()
			return
		}
		// A heartbeat is recorded at once, not behind the handler: a node
		// busy applying another's messages must not take it for dead.
		if isNew, ok := n.touch(id); ok && isNew {
			n.hmu.Lock()
			n.up(id)
			n.hmu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	_ = hb.SetPendingLimits(-1, -1)
	ack, err := n.nc.Subscribe(n.prefix+".ack."+n.id, func(m *nats.Msg) {
		n.mu.Lock()
		w := n.waits[string(m.Data)]
		if w != nil {
			if w.left--; w.left > 0 {
				w = nil
			} else {
				delete(n.waits, string(m.Data))
				w.timer.Stop()
			}
		}
		n.mu.Unlock()
		if w != nil {
			w.done(nil)
		}
	})
	if err != nil {
		return err
	}
	_ = ack.SetPendingLimits(-1, -1)
	n.mu.Lock()
	n.subs = []*nats.Subscription{data, hb, ack}
	n.mu.Unlock()
	if err := n.nc.Flush(); err != nil {
		return err
	}
	n.wg.Add(1)
	go n.beat()
	return nil
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
	h := n.h
	n.mu.Unlock()
	if known && h != nil {
		n.log.Warn("node left the cluster", "node", id)
		h.NodeDown(id)
	}
}

// beat sends heartbeats and takes silent nodes for dead.
func (n *Node) beat() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.NodeTimeout / 5)
	defer t.Stop()
	_ = n.nc.Publish(n.prefix+".hb", []byte(n.id))
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		_ = n.nc.Publish(n.prefix+".hb", []byte(n.id))
		var dead []string
		n.mu.Lock()
		for id, last := range n.members {
			if time.Since(last) > n.cfg.NodeTimeout {
				dead = append(dead, id)
			}
		}
		n.mu.Unlock()
		n.hmu.Lock()
		for _, id := range dead {
			n.down(id, false)
		}
		n.hmu.Unlock()
	}
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

// Send queues data for node to. NATS delivers a node's messages to another
// in the order they were sent.
func (n *Node) Send(to string, data []byte) error {
	n.sent.Add(1)
	return n.nc.Publish(n.prefix+".node."+to, n.frame(noAck, data))
}

// SendAll sends data to each node of to, in order with Send, and calls
// done once each has handled it, or with an error naming how many did not
// within timeout. done runs on another goroutine (or this one when to is
// empty) and must not block.
func (n *Node) SendAll(to []string, data []byte, timeout time.Duration, done func(error)) {
	if len(to) == 0 {
		done(nil)
		return
	}
	n.mu.Lock()
	n.tokens++
	token := fmt.Sprintf("%016x", n.tokens)
	w := &ackWait{left: len(to), done: done}
	n.waits[token] = w
	w.timer = time.AfterFunc(timeout, func() {
		n.mu.Lock()
		_, waiting := n.waits[token]
		delete(n.waits, token)
		left := w.left
		n.mu.Unlock()
		if waiting {
			done(fmt.Errorf("cluster: %d of %d nodes did not confirm within %s", left, len(to), timeout))
		}
	})
	n.mu.Unlock()
	msg := n.frame(token, data)
	n.sent.Add(uint64(len(to)))
	for _, id := range to {
		if err := n.nc.Publish(n.prefix+".node."+id, msg); err != nil {
			n.log.Warn("cluster message not sent", "node", id, "error", err)
		}
	}
}

// ackWait counts the confirmations a SendAll still waits for (under mu).
type ackWait struct {
	left  int
	done  func(error)
	timer *time.Timer
}

// frame is a message as it travels: sender id, ack token, data.
func (n *Node) frame(token string, data []byte) []byte {
	msg := make([]byte, 0, headerLen+len(data))
	msg = append(append(append(append(msg, n.id...), ' '), token...), ' ')
	return append(msg, data...)
}

// MaxPayload is the largest message the NATS server takes.
func (n *Node) MaxPayload() int64 { return n.nc.MaxPayload() }

// Sent is the number of messages this node has sent to others, heartbeats
// aside.
func (n *Node) Sent() uint64 { return n.sent.Load() }

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
	close(n.stop)
	n.wg.Wait()
	if goodbye {
		_ = n.nc.Publish(n.prefix+".hb", []byte("bye "+n.id))
		_ = n.nc.FlushTimeout(time.Second) // NATS may be gone: the others then time this node out
	}
	n.nc.Close()
	n.shutdownServer()
}

func (n *Node) shutdownServer() {
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}
