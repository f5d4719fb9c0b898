package cluster

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Links: what one node sends another travels on a reliable, ordered link.
//
// Every message a node sends another (Send, SendAll) gets the next number of
// that pair's sequence and stays in the sender's resend buffer until the
// receiver acknowledges it. The receiver applies messages strictly in
// sequence: a duplicate (a number already applied) is dropped, a message
// after a gap is dropped and the gap reported (a NACK naming the first
// number missing), and the sender sends everything again from there
// (go-back-N). The sender also tells, every linkInterval while something is
// unacknowledged, the last number it sent (a sync), so a loss at the tail of
// the stream is found too. Acknowledgements are cumulative, ride on the
// messages going the other way, and are sent on their own once per
// linkInterval, or at once when a sender waits for them (SendAll).
//
// A gap the sender can no longer fill (its resend buffer overflowed, or it
// dropped the receiver meanwhile) ends in a reset: the receiver skips to
// what the sender still has, and both tell their handler (Lost, Missed),
// which repairs what the messages said (the router sends a snapshot of its
// state and audits the calls in flight between the two nodes).
//
// On the wire, a NATS message is a header (format version, sender id) and
// one or more records: the messages of a link are batched, a flush of the
// link publishing whatever queued meanwhile as one NATS message.

// wireVersion is the first byte of every NATS message between nodes. A
// node ignores (and logs) messages of another version. 3: the messages are
// envelopes in package wire's binary format (wire.Version), no longer
// msgpack.
const wireVersion = 3

// Record types.
const (
	recData  = 1 // seq, flags, length, data
	recAck   = 2 // seq: every message up to it was applied
	recNack  = 3 // seq: the first message missing
	recSync  = 4 // seq: the last message sent
	recReset = 5 // seq: the first message the sender still has; those before are lost
	recBye   = 6 // seq: the sender leaves after its message seq
	recByeOK = 7 // the receiver applied the goodbye
)

const flagAck = 1 // a data record the sender waits on: acknowledge it at once

// idBytes is the length of a node id on the wire (16 hex digits as 8 bytes).
const idBytes = 8

// maxBatch bounds the bytes of one NATS message of a batch (a message
// larger than it goes alone).
const maxBatch = 256 << 10

// outLink is what this node sends one other node.
type outLink struct {
	to    string
	next  uint64 // the number of the next message; never reset while this node runs
	acked uint64 // every message up to it was applied there

	unacked    []outMsg // in sequence, from acked+1 (some may have been dropped: see lost)
	bytes      int      // of unacked
	queued     []byte   // records not published yet
	flushing   bool     // a goroutine is publishing queued
	spare      []byte   // the last NATS message published, whose array the flusher fills again
	sentAt     time.Time
	resentFrom uint64
	resentAt   time.Time
	waits      []seqWait // SendAll confirmations awaited, by sequence number
	ackDue     bool      // an acknowledgement of what we applied from to is owed
}

type outMsg struct {
	seq   uint64
	flags byte
	data  []byte
}

type seqWait struct {
	seq uint64
	w   *ackWait
}

// inLink is what this node received from one other node.
type inLink struct {
	expected uint64 // the next number to apply
	ackedOut uint64 // the last acknowledgement sent
	nackFor  uint64
	nackAt   time.Time
	bye      uint64 // a goodbye after message bye-1, waiting for the gap before it to fill
	heard    time.Time
}

// ackWait counts the nodes a SendAll still waits for.
type ackWait struct {
	left  map[string]bool
	done  func(error)
	timer *time.Timer
	total int
	ended bool // done was called (or is being called)
}

func (n *Node) outLinkLocked(to string) *outLink {
	l := n.out[to]
	if l == nil {
		l = &outLink{to: to, next: 1}
		n.out[to] = l
	}
	return l
}

func (n *Node) inLinkLocked(from string) *inLink {
	l := n.in[from]
	if l == nil {
		l = &inLink{expected: 1}
		n.in[from] = l
	}
	return l
}

// appendRecord appends a record of type t with sequence number seq.
func appendRecord(b []byte, t byte, seq uint64) []byte {
	return binary.AppendUvarint(append(b, t), seq)
}

func appendData(b []byte, m outMsg) []byte {
	b = appendRecord(b, recData, m.seq)
	b = append(b, m.flags)
	b = binary.AppendUvarint(b, uint64(len(m.data)))
	return append(b, m.data...)
}

// header is the start of every NATS message this node sends.
func (n *Node) header(capacity int) []byte {
	b := make([]byte, 0, 1+idBytes+capacity)
	return append(append(b, wireVersion), n.rawID[:]...)
}

// errTooLarge: a message over what NATS carries.
var errTooLarge = errors.New("cluster: message larger than the NATS server's max_payload")

// send queues data for node to under the next number of that link, and
// publishes the link's queue unless another goroutine is doing it.
func (n *Node) send(to string, data []byte, w *ackWait) error {
	if int64(len(data)+1+idBytes+24) > n.nc.MaxPayload() {
		return fmt.Errorf("%w (%d bytes)", errTooLarge, len(data))
	}
	n.mu.Lock()
	l := n.outLinkLocked(to)
	m := outMsg{seq: l.next, data: data}
	l.next++
	if w != nil {
		m.flags = flagAck
		l.waits = append(l.waits, seqWait{m.seq, w})
	}
	l.unacked = append(l.unacked, m)
	l.bytes += len(data)
	n.trimLocked(l)
	if len(l.unacked) == 1 {
		l.sentAt = time.Now()
	}
	l.queued = appendData(l.queued, m)
	start := !l.flushing
	l.flushing = true
	n.mu.Unlock()
	if start {
		go n.flush(l)
	}
	return nil
}

// trimLocked keeps the resend buffer within its bound by dropping the
// oldest messages: a NACK for them will be answered by a reset.
func (n *Node) trimLocked(l *outLink) {
	drop := 0
	for l.bytes > n.cfg.ResendBuffer && drop < len(l.unacked)-1 {
		l.bytes -= len(l.unacked[drop].data)
		drop++
	}
	if drop > 0 {
		n.overflows.Add(1)
		l.unacked = append(l.unacked[:0], l.unacked[drop:]...)
	}
}

// flush publishes link l's queued records until none are left. It runs on
// a goroutine of its own, started by the sender that found the link idle
// (one at a time per link); the senders meanwhile only queue, so what they
// queue while it starts or publishes goes in its next NATS message. It
// yields once before its first NATS message and once before it stops, so
// that the goroutines ready to run (the readers of the sessions that have
// more for that node) can queue more: under load a NATS message carries
// many messages, and NATS, its servers and the receiving node pay once for
// them. When nothing else is ready to run, a yield returns at once: no
// latency is added to a lone message.
func (n *Node) flush(l *outLink) {
	subject := n.prefix + ".node." + l.to
	runtime.Gosched()
	yielded := true
	for {
		n.mu.Lock()
		if len(l.queued) == 0 {
			if !yielded {
				n.mu.Unlock()
				yielded = true
				runtime.Gosched()
				continue
			}
			l.flushing = false
			n.mu.Unlock()
			return
		}
		yielded = false
		// NATS copies what it is given: without faults injected (which
		// may keep it), the buffers are used again.
		reuse := n.cfg.Faults == nil
		var msg []byte
		if reuse && l.spare != nil {
			msg = append(l.spare[:0], wireVersion)
			msg = append(msg, n.rawID[:]...)
		} else {
			msg = n.header(len(l.queued) + 12)
		}
		if in := n.in[l.to]; in != nil && in.expected-1 > in.ackedOut { // piggyback our acknowledgement
			in.ackedOut = in.expected - 1
			msg = appendRecord(msg, recAck, in.ackedOut)
		}
		cut := batchCut(l.queued, maxBatch)
		msg = append(msg, l.queued[:cut]...)
		switch {
		case cap(l.queued) <= 2*maxBatch:
			// Copied: the array takes the next records from its start
			// (what is left after the cut, usually nothing, moves
			// there), rather than the senders growing a new one.
			l.queued = l.queued[:copy(l.queued, l.queued[cut:])]
		case cut == len(l.queued):
			l.queued = nil // a large array is not kept
		default:
			l.queued = l.queued[cut:]
		}
		n.mu.Unlock()
		n.batches.Add(1)
		n.publish(subject, msg, false)
		if reuse && cap(msg) <= 2*maxBatch {
			l.spare = msg
		}
	}
}

// batchCut is where to cut queued records so that the first part stays
// under limit bytes (but holds at least one record).
func batchCut(b []byte, limit int) int {
	off := 0
	for off < len(b) {
		end := recordEnd(b, off)
		if end < 0 || (off > 0 && end > limit) {
			break
		}
		off = end
	}
	return max(off, min(len(b), 1))
}

// recordEnd is the offset after the record at off in records this node
// built (-1 if malformed).
func recordEnd(b []byte, off int) int {
	t := b[off]
	_, k := binary.Uvarint(b[off+1:])
	if k <= 0 {
		return -1
	}
	end := off + 1 + k
	if t != recData {
		return end
	}
	size, k := binary.Uvarint(b[end+1:])
	if k <= 0 {
		return -1
	}
	return end + 1 + k + int(size)
}

// controlAfter sends records that are not part of the sequence after what
// the link to node to has queued: with them if a flush is under way, else
// at once.
func (n *Node) controlAfter(to string, recs []byte) {
	n.mu.Lock()
	if l := n.out[to]; l != nil && l.flushing {
		l.queued = append(l.queued, recs...)
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()
	n.control(to, recs)
}

// control sends records that are not part of the sequence (acks, nacks,
// syncs, resets, goodbyes) to node to at once.
func (n *Node) control(to string, recs []byte) {
	msg := append(n.header(len(recs)), recs...)
	n.publish(n.nodePrefix+to, msg, true)
}

// publish hands a message to NATS or the direct path (through the faults
// injected by tests); ctl: it holds only records outside the sequence
// (see sendDirect).
func (n *Node) publish(subject string, data []byte, ctl bool) {
	if f := n.cfg.Faults; f != nil {
		f.Out(subject, data, func(b []byte) { n.publishNow(subject, b, ctl) })
		return
	}
	n.publishNow(subject, data, ctl)
}

// publishNow sends a message: on the direct path to its node if it is up,
// else through NATS.
func (n *Node) publishNow(subject string, data []byte, ctl bool) {
	if n.direct != nil {
		if to, ok := strings.CutPrefix(subject, n.nodePrefix); ok && n.sendDirect(to, data, ctl) {
			return
		}
	}
	if err := n.nc.Publish(subject, data); err != nil {
		// The records stay in the resend buffer: the receiver's NACK or
		// our next sync brings them again.
		n.log.Debug("cluster message not published", "subject", subject, "error", err)
	}
}

// receive handles a NATS message of another node: its records in order.
func (n *Node) receive(data []byte) {
	if len(data) < 1+idBytes || data[0] != wireVersion {
		if len(data) > 0 && data[0] != wireVersion {
			n.log.Warn("cluster message of another wire version ignored: every node must run the same cluster protocol",
				"version", data[0], "want", wireVersion)
		} else {
			n.log.Warn("malformed cluster message ignored", "bytes", len(data))
		}
		return
	}
	from := hex.EncodeToString(data[1 : 1+idBytes])
	if from == n.id {
		return
	}
	isNew, ok := n.touch(from)
	if !ok {
		// A late message of a node that said goodbye: only a goodbye
		// repeated because our acknowledgement was lost gets an answer.
		if hasRecord(data[1+idBytes:], recBye) {
			n.control(from, appendRecord(nil, recByeOK, 0))
		}
		return
	}
	n.hmu.Lock()
	defer n.hmu.Unlock()
	if isNew {
		n.up(from)
	}
	recs := data[1+idBytes:]
	var reply []byte
	ackNow := false
	for off := 0; off < len(recs); {
		t := recs[off]
		seq, k := binary.Uvarint(recs[off+1:])
		if k <= 0 {
			n.log.Warn("malformed cluster record ignored", "node", from)
			break
		}
		off += 1 + k
		switch t {
		case recData:
			if off >= len(recs) {
				return
			}
			flags := recs[off]
			size, k := binary.Uvarint(recs[off+1:])
			if k <= 0 || uint64(len(recs)-off-1-k) < size {
				n.log.Warn("malformed cluster record ignored", "node", from)
				return
			}
			body := recs[off+1+k : off+1+k+int(size)]
			off += 1 + k + int(size)
			reply, ackNow = n.receiveData(from, seq, flags, body, reply, ackNow)
		case recAck:
			n.acked(from, seq)
		case recNack:
			n.resend(from, seq)
		case recSync:
			reply = n.synced(from, seq, reply)
		case recReset:
			n.reset(from, seq)
		case recBye:
			reply = n.byeFrom(from, seq, reply)
		case recByeOK:
			n.byeAcked(from)
		default:
			n.log.Warn("unknown cluster record ignored", "node", from, "type", t)
			return
		}
	}
	if ackNow {
		n.mu.Lock()
		if in := n.in[from]; in != nil && in.expected-1 > in.ackedOut {
			in.ackedOut = in.expected - 1
			reply = appendRecord(reply, recAck, in.ackedOut)
		}
		n.mu.Unlock()
	}
	if len(reply) > 0 {
		n.control(from, reply)
	}
}

// receiveData applies message seq of node from if it is the next one.
// Under hmu.
func (n *Node) receiveData(from string, seq uint64, flags byte, body, reply []byte, ackNow bool) ([]byte, bool) {
	n.mu.Lock()
	in := n.inLinkLocked(from)
	switch {
	case seq < in.expected: // a duplicate
		n.duplicates.Add(1)
		n.log.Debug("duplicate cluster message dropped", "node", from, "seq", seq, "expected", in.expected)
		n.mu.Unlock()
		return reply, ackNow || flags&flagAck != 0 // its acknowledgement may have been lost
	case seq > in.expected: // a gap
		n.gaps.Add(1)
		n.log.Debug("cluster message after a gap dropped", "node", from, "seq", seq, "expected", in.expected)
		reply = n.nackLocked(in, reply)
		n.mu.Unlock()
		return reply, ackNow
	}
	_, member := n.members[from]
	h := n.h
	n.mu.Unlock()
	if member && h != nil {
		h.Deliver(from, body)
	}
	// Counted as received only once applied: the acknowledgements the
	// heartbeat loop's tick and the links' flushers send meanwhile, off
	// this goroutine, must not confirm a message the handler has not
	// applied yet (a SendAll's confirmation means applied). The next
	// message waits for this goroutine (under hmu) anyway.
	n.mu.Lock()
	in.expected++
	n.mu.Unlock()
	if in.bye != 0 && in.expected >= in.bye {
		reply = n.applyBye(from, reply)
	}
	return reply, ackNow || flags&flagAck != 0
}

// nackLocked reports the first missing message, at most once per
// linkInterval for the same one.
func (n *Node) nackLocked(in *inLink, reply []byte) []byte {
	now := time.Now()
	if in.nackFor == in.expected && now.Sub(in.nackAt) < n.linkInterval {
		return reply
	}
	in.nackFor, in.nackAt = in.expected, now
	return appendRecord(reply, recNack, in.expected)
}

// acked: node from applied every message up to seq.
func (n *Node) acked(from string, seq uint64) {
	var done []*ackWait
	n.mu.Lock()
	l := n.out[from]
	if l == nil || seq <= l.acked {
		n.mu.Unlock()
		return
	}
	seq = min(seq, l.next-1)
	l.acked = seq
	drop := 0
	for drop < len(l.unacked) && l.unacked[drop].seq <= seq {
		l.bytes -= len(l.unacked[drop].data)
		drop++
	}
	l.unacked = append(l.unacked[:0], l.unacked[drop:]...)
	if len(l.unacked) > 0 {
		l.sentAt = time.Now()
	}
	for len(l.waits) > 0 && l.waits[0].seq <= seq {
		if w := l.waits[0].w; w.confirm(from) {
			done = append(done, w)
		}
		l.waits = l.waits[1:]
	}
	n.mu.Unlock()
	for _, w := range done {
		w.done(nil)
	}
}

// confirm notes that node id has applied what w waits for; it reports
// whether w is complete now (and stops its timer). Under mu.
func (w *ackWait) confirm(id string) bool {
	if !w.left[id] {
		return false
	}
	delete(w.left, id)
	if len(w.left) > 0 || w.ended {
		return false
	}
	w.ended = true
	w.timer.Stop()
	return true
}

// resend answers a NACK: everything from seq again, or a reset if the
// oldest of it is gone.
func (n *Node) resend(to string, seq uint64) {
	n.mu.Lock()
	l := n.out[to]
	if l == nil || seq >= l.next || seq <= l.acked {
		// seq <= acked: a NACK that came late (delayed, duplicated,
		// overtaken by the acknowledgement of what it asked for).
		n.mu.Unlock()
		return
	}
	now := time.Now()
	if l.resentFrom == seq && now.Sub(l.resentAt) < n.linkInterval/2 {
		n.mu.Unlock()
		return // already on its way
	}
	// The next sync comes a full linkInterval after this resend, and the
	// NACK it brings back is not taken for this one's echo.
	l.resentFrom, l.resentAt, l.sentAt = seq, now, now
	lost := len(l.unacked) == 0 || l.unacked[0].seq > seq
	var first uint64
	if lost {
		first = l.next
		if len(l.unacked) > 0 {
			first = l.unacked[0].seq
		}
	}
	var recs []byte
	if lost {
		recs = appendRecord(recs, recReset, first)
	}
	for _, m := range l.unacked {
		if m.seq >= seq {
			recs = appendData(recs, m)
		}
	}
	n.resent.Add(1)
	l.queued = append(recs, l.queued...)
	start := !l.flushing
	l.flushing = true
	h := n.h
	n.mu.Unlock()
	if lost {
		n.resets.Add(1)
		n.log.Warn("messages to a cluster node lost for good: resending our state", "node", to, "from", seq, "first_kept", first)
	}
	if start {
		go n.flush(l)
	}
	if lost && h != nil {
		h.Lost(to) // under hmu (receive): in order with the other calls to h
	}
}

// synced answers a sync: NACK if messages up to seq are missing, else
// acknowledge (an acknowledgement may have been lost).
func (n *Node) synced(from string, seq uint64, reply []byte) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	in := n.inLinkLocked(from)
	if seq >= in.expected {
		// Syncs come at most once per linkInterval: answer each, or a
		// lost NACK would cost a second interval.
		in.nackFor, in.nackAt = in.expected, time.Now()
		return appendRecord(reply, recNack, in.expected)
	}
	in.ackedOut = in.expected - 1
	return appendRecord(reply, recAck, in.ackedOut)
}

// reset: node from no longer has the messages before seq. Under hmu.
func (n *Node) reset(from string, seq uint64) {
	n.mu.Lock()
	in := n.inLinkLocked(from)
	skipped := seq > in.expected
	if skipped {
		in.expected = seq
	}
	h := n.h
	n.mu.Unlock()
	if skipped && h != nil {
		n.log.Warn("messages from a cluster node lost for good: it resends its state", "node", from)
		h.Missed(from)
	}
}

// byeFrom: node from leaves after its message seq-1. Under hmu.
func (n *Node) byeFrom(from string, seq uint64, reply []byte) []byte {
	n.mu.Lock()
	in := n.inLinkLocked(from)
	if in.expected < seq { // messages before it are missing: apply it once they are in
		in.bye = seq
		reply = n.nackLocked(in, reply)
		n.mu.Unlock()
		return reply
	}
	n.mu.Unlock()
	return n.applyBye(from, reply)
}

// applyBye forgets node from for good and acknowledges its goodbye. Under hmu.
func (n *Node) applyBye(from string, reply []byte) []byte {
	n.down(from, true)
	return append(reply, recByeOK, 0)
}

func (n *Node) byeAcked(from string) {
	n.mu.Lock()
	if n.byeWait != nil && n.byeWait[from] {
		delete(n.byeWait, from)
		if len(n.byeWait) == 0 {
			close(n.byeDone)
		}
	}
	n.mu.Unlock()
}

// tick, every linkInterval: syncs for links with messages unacknowledged
// for a while, acknowledgements owed.
func (n *Node) tick() {
	type ctl struct {
		to   string
		recs []byte
	}
	var out []ctl
	var done []*ackWait
	now := time.Now()
	n.mu.Lock()
	for id := range n.members {
		if l := n.out[id]; l != nil && len(l.waits) > 0 && n.unwaitedLocked(id, now) {
			// A wait does not last on a node that stopped answering
			// while the others answer: it gets the message if it comes
			// back (still unacknowledged).
			for _, sw := range l.waits {
				if sw.w.confirm(id) {
					done = append(done, sw.w)
				}
			}
			l.waits = nil
		}
		var recs []byte
		if l := n.out[id]; l != nil && len(l.unacked) > 0 && now.Sub(l.sentAt) >= n.linkInterval {
			recs = appendRecord(recs, recSync, l.next-1)
			l.sentAt = now
		}
		if in := n.in[id]; in != nil && in.expected-1 > in.ackedOut {
			in.ackedOut = in.expected - 1
			recs = appendRecord(recs, recAck, in.ackedOut)
		}
		if recs != nil {
			out = append(out, ctl{id, recs})
		}
	}
	n.mu.Unlock()
	for _, w := range done {
		w.done(nil)
	}
	for _, c := range out {
		n.control(c.to, c.recs)
	}
}

// forgetLinkLocked drops what this node keeps for a link to a node that is
// gone: the messages it did not acknowledge (the snapshot sent when it comes
// back replaces them) and the waits on it. The sequence numbers stay, so a
// node that did not notice the drop sees a gap, not a restart. Waits that
// are complete now are returned.
func (n *Node) forgetLinkLocked(id string, bye bool) []*ackWait {
	var done []*ackWait
	if l := n.out[id]; l != nil {
		for _, sw := range l.waits {
			if sw.w.confirm(id) {
				done = append(done, sw.w)
			}
		}
		l.waits, l.unacked, l.bytes, l.queued = nil, nil, 0, nil
		if bye {
			delete(n.out, id)
		}
	}
	if bye {
		delete(n.in, id)
	}
	return done
}

// hasRecord reports whether records received from another node hold one of
// type t; it stops at the first malformed record.
func hasRecord(recs []byte, t byte) bool {
	for off := 0; off < len(recs); {
		typ := recs[off]
		if typ == t {
			return true
		}
		_, k := binary.Uvarint(recs[off+1:])
		if k <= 0 {
			return false
		}
		off += 1 + k
		if typ != recData {
			continue
		}
		if off >= len(recs) {
			return false
		}
		size, k := binary.Uvarint(recs[off+1:])
		if k <= 0 || uint64(len(recs)-off-1-k) < size {
			return false
		}
		off += 1 + k + int(size)
	}
	return false
}
