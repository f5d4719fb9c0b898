package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The direct path: what one node sends another (the messages of a link,
// its acknowledgements and the rest of its records, everything on subject
// <prefix>.node.<id>) travels on a TCP connection from the sender to the
// receiver instead of through the NATS servers, when both nodes have
// DirectListen set. A message through NATS crosses the sender's NATS
// client, its server, a route, the receiver's server and its client: two
// servers, a route and about seven goroutine hand-offs; on the direct path
// the sender's link flusher writes the frame to the socket and the
// receiver's reader goroutine applies it.
//
// Each node listens on DirectListen and announces the address in its
// heartbeats ("<id> <address>"). A node dials every peer that announces one
// (one connection per ordered pair: the dialer only writes, the acceptor
// only reads) and says who it is and whom it wants: the wire version, the
// cluster name, its id and the peer's id. The acceptor takes the connection
// only if all of them match (a node of another cluster, a stale address
// now used by another node, a node that said goodbye are refused); nodes of
// one cluster trust each other, as they trust what comes through NATS: the
// listener belongs on the cluster's private network.
//
// Frames are a uvarint length and the bytes a NATS message would carry
// (version, sender id, records); the Faults hook sees them under the same
// subject as through NATS. The link layer does not care which path a frame
// took: a frame lost when a connection breaks, or overtaken by the next
// one sent through NATS, is a gap that the link repairs. So when a write
// fails or does not complete within the direct timeout, the connection is
// closed and the frame goes through NATS instead; so does everything sent
// to that node until a new connection is up, which is tried at each of the
// node's heartbeats. Heartbeats and goodbyes stay on NATS: membership does
// not depend on the direct path.

// directHello is the first thing a dialer writes: a marker, then the wire
// version, the cluster name (a byte of length, then the name), the
// dialer's id and the id of the node it wants.
var directHello = []byte("JCD")

// Answers to a hello (one byte).
const (
	directOK      = 1
	directRefused = 2
)

// maxHandshakes bounds the connections to the direct listener that have
// not said who they are yet; more are closed at once.
const maxHandshakes = 16

// direct is a node's side of the direct path.
type direct struct {
	ln   net.Listener
	addr string // announced in heartbeats

	// Under Node.mu.
	peers    map[string]*peerConn // node id -> what this node writes to it
	accepted map[string]net.Conn  // node id -> the connection it writes to this node
	conns    map[net.Conn]bool    // every connection, to close on leave
	shakes   int                  // handshakes under way
}

// peerConn is the connection this node writes to one peer on.
type peerConn struct {
	id, addr string
	wmu      sync.Mutex // one writer at a time: the frames must not mix
	conn     net.Conn   // nil while down; set and cleared under Node.mu
	dialing  bool       // under Node.mu
}

// startDirect listens on cfg.DirectListen.
func (n *Node) startDirect() error {
	ln, err := net.Listen("tcp", n.cfg.DirectListen)
	if err != nil {
		return fmt.Errorf("cluster: direct_listen: %w", err)
	}
	addr := n.cfg.DirectAdvertise
	if addr == "" {
		a := ln.Addr().(*net.TCPAddr)
		if a.IP.IsUnspecified() {
			_ = ln.Close()
			return fmt.Errorf("cluster: direct_listen %s listens on every address: set direct_advertise to the address the other nodes dial", n.cfg.DirectListen)
		}
		addr = a.String()
	}
	n.direct = &direct{ln: ln, addr: addr, peers: map[string]*peerConn{}, accepted: map[string]net.Conn{}, conns: map[net.Conn]bool{}}
	return nil
}

// DirectAddr is the address this node announces for the direct path, ""
// without one.
func (n *Node) DirectAddr() string {
	if n.direct == nil {
		return ""
	}
	return n.direct.addr
}

// directTimeout bounds a dial, a hello and a write on the direct path.
func (n *Node) directTimeout() time.Duration { return heartbeatTicks * n.linkInterval }

// acceptLoop takes the connections of the other nodes until the listener
// closes.
func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		c, err := n.direct.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("direct listener", "error", err)
			select {
			case <-n.stop:
				return
			case <-time.After(n.linkInterval): // EMFILE and the like: not a busy loop
			}
			continue
		}
		n.mu.Lock()
		if n.closed || n.direct.shakes >= maxHandshakes {
			n.mu.Unlock()
			_ = c.Close()
			continue
		}
		n.direct.shakes++
		n.direct.conns[c] = true
		n.mu.Unlock()
		n.wg.Add(1)
		go n.serveDirect(c)
	}
}

// serveDirect checks a connection's hello, then applies the frames it
// carries until it ends.
func (n *Node) serveDirect(c net.Conn) {
	defer n.wg.Done()
	from, r, ok := n.directHandshake(c)
	n.mu.Lock()
	n.direct.shakes--
	if ok && !n.closed {
		if old := n.direct.accepted[from]; old != nil {
			_ = old.Close() // the dialer gave up on it: one connection per node
		}
		n.direct.accepted[from] = c
	} else {
		ok = false
	}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.direct.conns, c)
		if n.direct.accepted[from] == c {
			delete(n.direct.accepted, from)
		}
		n.mu.Unlock()
		_ = c.Close()
	}()
	if !ok {
		return
	}
	if _, err := c.Write([]byte{directOK}); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	n.readFrames(c, r, from)
}

// directHandshake reads and checks a hello within directTimeout; it
// answers a refusal itself.
func (n *Node) directHandshake(c net.Conn) (from string, r *bufio.Reader, ok bool) {
	_ = c.SetDeadline(time.Now().Add(n.directTimeout()))
	r = bufio.NewReaderSize(c, 64<<10)
	head := make([]byte, len(directHello)+2)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head[:len(directHello)], directHello) {
		n.log.Warn("direct connection refused: not a Junction node", "remote", c.RemoteAddr())
		return "", nil, false
	}
	version, nameLen := head[len(directHello)], int(head[len(directHello)+1])
	rest := make([]byte, nameLen+2*idBytes)
	if _, err := io.ReadFull(r, rest); err != nil {
		return "", nil, false
	}
	name, sender, target := string(rest[:nameLen]), rest[nameLen:nameLen+idBytes], rest[nameLen+idBytes:]
	from = hex.EncodeToString(sender)
	n.mu.Lock()
	left := n.left[from]
	_, member := n.members[from]
	n.mu.Unlock()
	why := ""
	switch {
	case version != wireVersion:
		why = fmt.Sprintf("wire version %d, want %d", version, wireVersion)
	case name != n.cfg.Name:
		why = fmt.Sprintf("cluster %q, not this one", name)
	case !bytes.Equal(target, n.rawID[:]):
		why = "it wants node " + hex.EncodeToString(target) // an address this node took over
	case from == n.id:
		why = "it claims this node's id"
	case left:
		why = "that node said goodbye"
	case !member: // its heartbeat comes through NATS first; it dials again at the next one
		why = "no heartbeat of that node heard"
	}
	if why != "" {
		n.log.Warn("direct connection refused", "remote", c.RemoteAddr(), "node", from, "why", why)
		_, _ = c.Write([]byte{directRefused})
		return "", nil, false
	}
	return from, r, true
}

// readFrames applies the frames of node from read from c until it ends or
// sends something malformed.
func (n *Node) readFrames(c net.Conn, r *bufio.Reader, from string) {
	subject := n.prefix + ".node." + n.id
	limit := uint64(n.maxFrame())
	sender, _ := hex.DecodeString(from)
	for {
		size, err := binary.ReadUvarint(r)
		if err != nil {
			return
		}
		if size < 1+idBytes || size > limit {
			n.log.Warn("direct connection closed: frame size out of bounds", "node", from, "bytes", size, "limit", limit)
			return
		}
		// A frame of its own: the handler keeps parts of what it is
		// given (the payloads of calls it routes on).
		frame := make([]byte, size)
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		if !bytes.Equal(frame[1:1+idBytes], sender) {
			n.log.Warn("direct connection closed: a frame in the name of another node", "node", from)
			return
		}
		if f := n.cfg.Faults; f != nil && !f.In(subject, frame) {
			continue
		}
		n.receive(frame)
	}
}

// maxFrame is the largest frame taken on the direct path: what NATS carries.
func (n *Node) maxFrame() int64 { return max(n.nc.MaxPayload(), maxBatch) + 64 }

// learnDirect notes the direct address node id announced, and dials it if
// this node has no connection to it.
func (n *Node) learnDirect(id, addr string) {
	if n.direct == nil || addr == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.left[id] {
		return
	}
	if _, ok := n.members[id]; !ok {
		return
	}
	p := n.direct.peers[id]
	if p == nil {
		p = &peerConn{id: id, addr: addr}
		n.direct.peers[id] = p
	}
	if p.addr != addr && p.conn != nil { // it moved
		n.closePeerLocked(p)
	}
	p.addr = addr
	if p.conn != nil || p.dialing {
		return
	}
	p.dialing = true
	n.wg.Add(1)
	go n.dial(p, addr)
}

// dial connects to peer p at addr and says hello.
func (n *Node) dial(p *peerConn, addr string) {
	defer n.wg.Done()
	c, err := n.dialHello(p.id, addr)
	n.mu.Lock()
	p.dialing = false
	if err != nil || n.closed || n.direct.peers[p.id] != p || p.addr != addr {
		n.mu.Unlock()
		if c != nil {
			_ = c.Close()
		}
		if err != nil {
			n.log.Debug("direct path to a node not up: its messages go through NATS", "node", p.id, "address", addr, "error", err)
		}
		return
	}
	p.conn = c
	n.direct.conns[c] = true
	n.mu.Unlock()
	n.directUps.Add(1)
	n.log.Debug("direct path to a node up", "node", p.id, "address", addr)
	// The acceptor never writes after its answer: a read returns when the
	// connection ends, which takes the path down at once rather than at
	// the next write.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		_, _ = c.Read(make([]byte, 1))
		n.mu.Lock()
		if p.conn == c {
			n.closePeerLocked(p)
		}
		n.mu.Unlock()
	}()
}

func (n *Node) dialHello(id, addr string) (net.Conn, error) {
	target, err := hex.DecodeString(id)
	if err != nil || len(target) != idBytes {
		return nil, fmt.Errorf("node id %q", id)
	}
	c, err := net.DialTimeout("tcp", addr, n.directTimeout())
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(n.directTimeout()))
	hello := append(append(append([]byte{}, directHello...), wireVersion, byte(len(n.cfg.Name))), n.cfg.Name...)
	hello = append(append(hello, n.rawID[:]...), target...)
	if _, err := c.Write(hello); err != nil {
		_ = c.Close()
		return nil, err
	}
	answer := make([]byte, 1)
	if _, err := io.ReadFull(c, answer); err != nil || answer[0] != directOK {
		_ = c.Close()
		if err == nil {
			err = errors.New("refused")
		}
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return c, nil
}

// closePeerLocked takes the direct path to p down. Under mu.
func (n *Node) closePeerLocked(p *peerConn) {
	if p.conn != nil {
		_ = p.conn.Close()
		delete(n.direct.conns, p.conn)
		p.conn = nil
	}
}

// forgetDirectLocked closes the direct paths to and from node id, gone.
// Under mu.
func (n *Node) forgetDirectLocked(id string) {
	if n.direct == nil {
		return
	}
	if p := n.direct.peers[id]; p != nil {
		n.closePeerLocked(p)
		delete(n.direct.peers, id)
	}
	if c := n.direct.accepted[id]; c != nil {
		_ = c.Close()
	}
}

// closeDirect closes the listener and every connection (leave).
func (n *Node) closeDirect() {
	if n.direct == nil {
		return
	}
	_ = n.direct.ln.Close()
	n.mu.Lock()
	for c := range n.direct.conns {
		_ = c.Close()
	}
	for _, p := range n.direct.peers {
		p.conn = nil
	}
	n.mu.Unlock()
}

// sendDirect writes a frame to node to on the direct path; false if there
// is none or the write failed (the path is down then, and the caller sends
// the frame through NATS). A control frame (ctl: records outside the
// sequence, which may arrive in any order) does not wait for another
// frame's write: it goes through NATS instead, so that the goroutine
// applying a node's messages, which answers them, never waits on a
// connection to another node that stopped reading.
func (n *Node) sendDirect(to string, data []byte, ctl bool) bool {
	n.mu.Lock()
	p := n.direct.peers[to]
	var c net.Conn
	if p != nil {
		c = p.conn
	}
	n.mu.Unlock()
	if c == nil {
		return false
	}
	var size [binary.MaxVarintLen64]byte
	bufs := net.Buffers{size[:binary.PutUvarint(size[:], uint64(len(data)))], data}
	if ctl {
		if !p.wmu.TryLock() {
			return false
		}
	} else {
		p.wmu.Lock()
	}
	_ = c.SetWriteDeadline(time.Now().Add(n.directTimeout()))
	_, err := bufs.WriteTo(c)
	p.wmu.Unlock()
	if err == nil {
		n.directFrames.Add(1)
		return true
	}
	n.mu.Lock()
	if p.conn == c {
		n.closePeerLocked(p)
	}
	n.mu.Unlock()
	n.directDowns.Add(1)
	n.log.Warn("direct path to a node down: its messages go through NATS until it is up again", "node", to, "error", err)
	return false
}
