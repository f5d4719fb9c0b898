package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/lesismal/nbio"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/junction-wamp/junction/transport"
)

// The nbio engine's writer.
//
// nbio's Write never blocks: what the socket does not take, nbio copies and
// keeps until the socket can take it. Handing it a whole batch would make a
// stalled subscriber hold a copy of everything queued for it; instead the
// writer hands nbio at most nbChunk bytes at a time, and only once nbio has
// written the last (inflight, counted down by the engine's OnWrittenSize).
// The rest stays in the queue, shared frames by reference, and counts
// against its bound: the queue's slow-consumer policy (over its bound for
// SlowConsumerTimeout, or messages waiting behind a write that does not
// progress) holds as on gorilla, and a stalled peer holds at most one chunk
// besides its queue.
//
// The writer runs on demand: a push starts it if none runs; it ends when
// the queue is empty, or when nbio holds bytes (parked), and the drain
// callback starts it again.

// nbChunk is the most the writer hands nbio at once.
const nbChunk = 16 << 10

// errChunkFull stops a batch's Write once a chunk is full.
var errChunkFull = errors.New("websocket: chunk full")

func (p *nbPeer) push(it transport.Item) error {
	if err := p.q.Push(it); err != nil {
		return err
	}
	if p.writing.CompareAndSwap(false, true) {
		go p.writeLoop()
	}
	return nil
}

// written is the engine's OnWrittenSize for this peer: n bytes went to the
// socket. It runs under nbio's connection lock: it must not write.
func (p *nbPeer) written(n int) {
	if ch := p.progress.Load(); ch != nil { // finish waits on it
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
	left := p.inflight.Add(-int64(n))
	if left < 0 { // the handshake's answer, written before the peer counted
		p.inflight.CompareAndSwap(left, 0)
		left = 0
	}
	if left == 0 && p.parked.CompareAndSwap(true, false) && p.writing.CompareAndSwap(false, true) {
		go p.writeLoop()
	}
}

// writeLoop is the writer goroutine.
func (p *nbPeer) writeLoop() {
	for {
		p.wmu.Lock()
		more := p.writeStep()
		p.wmu.Unlock()
		if more {
			continue
		}
		p.writing.Store(false)
		// A push (or a drain) between the step and the Store saw a writer
		// running and started none.
		if !p.workWaiting() || !p.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// workWaiting: the writer has something to do now.
func (p *nbPeer) workWaiting() bool {
	if p.inflight.Load() > 0 {
		return false
	}
	p.parked.Store(false)
	return p.q.Len() > 0 || p.hasCur()
}

func (p *nbPeer) hasCur() bool {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.cur != nil && !p.wfailed
}

// writeStep does one step of the writer, under wmu; it reports whether
// there is more to do at once.
func (p *nbPeer) writeStep() bool {
	if p.wfailed {
		return false
	}
	if p.inflight.Load() > 0 {
		p.parked.Store(true)
		return false
	}
	if p.cur == nil {
		// nbio has written everything: its write timer is no longer
		// needed (nbio clears it only when a Write is taken whole).
		if p.armed {
			_ = p.wsc.Conn.SetWriteDeadline(time.Time{})
			p.armed = false
		}
		b := p.q.Take()
		if b.Len() == 0 {
			p.q.Written(&b)
			return false
		}
		p.cur, p.curSize = &b, 0
	}
	done, err := p.writeChunk(nbChunk)
	if err != nil {
		p.fail(err)
		return false
	}
	if done && p.inflight.Load() <= 0 {
		p.finishBatch()
	}
	return true
}

// writeChunk frames up to max bytes of the current batch (at least one
// item) and hands them to nbio. done: the batch is all handed over.
func (p *nbPeer) writeChunk(max int) (done bool, err error) {
	fw := p.s.nb.getFramer(p.info.Compression)
	defer fw.release()
	_, size, err := p.cur.Write(func(it transport.Item) error {
		if len(fw.bytes()) >= max {
			return errChunkFull
		}
		return fw.add(it, p.binary)
	})
	p.curSize += size
	done = err == nil
	if err != nil && !errors.Is(err, errChunkFull) {
		return false, err
	}
	return done, p.hand(fw.bytes())
}

// hand gives nbio framed bytes, counted in flight until written.
func (p *nbPeer) hand(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	nbc := p.wsc.Conn
	p.inflight.Add(int64(len(b)))
	if _, err := nbc.Write(b); err != nil {
		return err
	}
	// nbio's Write never blocks: the deadline is for what it keeps
	// because the socket did not take it. Armed only then, so that a write
	// the socket takes whole allocates no timer. Whoever drains the rest
	// (writeStep, under wmu, which we hold) clears it.
	if p.inflight.Load() > 0 {
		_ = nbc.SetWriteDeadline(time.Now().Add(p.s.cfg.WriteTimeout))
		p.armed = true
	}
	return nil
}

// finishBatch reports the current batch written; the caller holds wmu.
func (p *nbPeer) finishBatch() {
	if p.cur == nil {
		return
	}
	p.q.Written(p.cur)
	p.cur.Release()
	p.s.stats.BytesOut.Add(uint64(p.curSize))
	p.cur, p.curSize = nil, 0
}

// fail abandons the connection after a failed write; the caller holds wmu.
func (p *nbPeer) fail(err error) {
	p.wfailed = true
	if p.cur != nil {
		p.q.Written(p.cur)
		p.cur.Release()
		p.cur = nil
	}
	if errors.Is(err, nbio.ErrOverflow) {
		go p.slow(fmt.Sprintf("slow consumer: more than %d bytes waiting for the socket", p.s.cfg.QueueBytes))
	}
	go func() {
		p.closeWith(transport.CloseGoingAway, "write failed", true)
		_ = p.wsc.Conn.Close()
	}()
}

// control writes a control frame (payload at most 125 bytes: a 2-byte
// header), counted in flight.
func (p *nbPeer) control(mt nbws.MessageType, payload []byte) {
	p.inflight.Add(int64(2 + len(payload)))
	if err := p.wsc.WriteMessage(mt, payload); err != nil {
		p.inflight.Add(-int64(2 + len(payload)))
	}
}

func closePayload(code int, reason string) []byte {
	b := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	copy(b[2:], reason)
	return b
}

// sendPing runs on the ping timer.
func (p *nbPeer) sendPing() {
	select {
	case <-p.closing:
		return
	default:
	}
	p.control(nbws.PingMessage, nil)
	p.ping.Reset(p.s.cfg.PingInterval)
}

// finish flushes what is queued (unless discarding), sends the close
// frame, waits for the client's (within the write timeout) and closes the
// connection.
func (p *nbPeer) finish() {
	p.live.Wait()
	p.ping.Stop()
	p.wmu.Lock()
	ok := !p.wfailed
	if ok && !p.discard {
		ok = p.flushAll() == nil
	}
	if p.cur != nil { // discarded, or the flush failed
		p.q.Written(p.cur)
		p.cur.Release()
		p.cur = nil
	}
	if ok {
		msg := p.closeMsg
		if len(msg) > 123 {
			msg = msg[:123]
		}
		p.control(nbws.CloseMessage, closePayload(wireCode(p.closeCode), msg))
	}
	p.wfailed = true // nothing more is written
	p.wmu.Unlock()
	if ok {
		p.awaitClose()
	}
	_ = p.wsc.Conn.Close()
}

// awaitClose waits for the client to close (its answer to our close
// frame) while it takes what nbio still holds: closing the socket would
// drop those bytes, the close frame with them (the kernel would have sent
// them on; nbio's buffer is ours). It gives up after WriteTimeout without
// the client taking a byte, as a write on gorilla does. That is the only
// bound: the read deadline (ping_interval + pong_timeout since the client's
// last frame) is cleared, for a client that stopped reading sends no pong,
// and nbio would close under the bytes it holds (on gorilla they are in
// the kernel's buffer by then; TestStalledCutOutlivesReadDeadline).
func (p *nbPeer) awaitClose() {
	_ = p.wsc.Conn.SetReadDeadline(time.Time{})
	ch := make(chan struct{}, 1)
	p.progress.Store(&ch)
	t := time.NewTimer(p.s.cfg.WriteTimeout)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			return
		case <-ch:
			if p.inflight.Load() > 0 { // still draining: give it the time of a write
				_ = p.wsc.Conn.SetWriteDeadline(time.Now().Add(p.s.cfg.WriteTimeout))
				t.Reset(p.s.cfg.WriteTimeout)
			}
		}
	}
}

// flushAll hands nbio everything left, whatever it holds already (within
// its bound, QueueBytes): the last flush before the close frame.
func (p *nbPeer) flushAll() error {
	for {
		if p.cur == nil {
			b := p.q.Take()
			if b.Len() == 0 {
				p.q.Written(&b)
				return nil
			}
			p.cur, p.curSize = &b, 0
		}
		done, err := p.writeChunk(1 << 30)
		if err != nil {
			return err
		}
		if done {
			p.finishBatch()
		}
	}
}
