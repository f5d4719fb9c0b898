package rawsocket

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/lesismal/nbio"

	"github.com/junction-wamp/junction/transport"
)

// The nbio engine's writer, as the WebSocket transport's (its nbwrite.go).
//
// nbio's Write never blocks: what the socket does not take, nbio copies and
// keeps until the socket can take it. Handing it a whole batch would make a
// stalled client hold a copy of everything queued for it; instead the
// writer hands nbio at most nbChunk bytes of frames at a time (a larger
// message alone), and only once nbio has written the last (inflight,
// counted down by the engine's OnWrittenSize). The rest stays in the
// queue, shared frames by reference, and counts against its bound: the
// queue's slow-consumer policy holds as on the goroutine engine.
//
// The writer runs on demand: a push starts it if none runs; it ends when
// the queue is empty, or when nbio holds bytes (parked), and the drain
// starts it again.

// nbChunk is the most the writer gathers into one nbio write.
const nbChunk = 16 << 10

// pongBacklog is the most of its PONGs a connection may leave unwritten
// (in nbio's buffer) before it is a slow consumer: queue_bytes/4, 4 MiB by
// default. A client may write a burst of PINGs before it reads their
// PONGs (hostile TestRawSocketPingFlood writes 6.5 MB of them): what its
// socket does not take waits here.
func (p *nbPeer) pongBacklog() int64 { return int64(p.s.cfg.QueueBytes / 4) }

// errChunkFull stops a batch's Write once a chunk is full.
var errChunkFull = errors.New("rawsocket: chunk full")

// chunkBufs are the buffers chunks are gathered in.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, 0, nbChunk+HeaderLen); return &b }}

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
	p.wrote.Add(int64(n))
	left := p.inflight.Add(-int64(n))
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
	if p.q.Len() > 0 {
		return true
	}
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
		_ = p.nbc.SetWriteDeadline(time.Time{})
		b := p.q.Take()
		if b.Len() == 0 {
			p.q.Written(&b)
			return false
		}
		p.cur, p.curSize, p.curN = &b, 0, 0
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
// message) and hands them to nbio; a message larger than max goes alone,
// its payload handed as it is (nbio copies only what the socket does not
// take). done: the batch is all handed over.
func (p *nbPeer) writeChunk(max int) (done bool, err error) {
	bp := chunkBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	full := false
	var werr error
	n, size, err := p.cur.Write(func(it transport.Item) error {
		data := it.Data
		if it.Frame != nil {
			data = it.Frame.Data
		}
		if full || len(buf) > 0 && len(buf)+HeaderLen+len(data) > max {
			return errChunkFull
		}
		h := Header(FrameMessage, len(data))
		buf = append(buf, h[:]...)
		if len(data) <= max {
			buf = append(buf, data...)
			return nil
		}
		full = true
		if werr = p.hand(buf); werr != nil {
			return werr
		}
		buf = buf[:0]
		if werr = p.hand(data); werr != nil {
			return werr
		}
		return nil
	})
	p.curSize, p.curN = p.curSize+size, p.curN+n
	done = err == nil
	if err == nil || errors.Is(err, errChunkFull) {
		err = p.hand(buf)
	}
	*bp = buf[:0]
	if cap(buf) <= 4*nbChunk {
		chunkBufs.Put(bp)
	}
	return done, err
}

// hand gives nbio framed bytes, counted in flight until written.
func (p *nbPeer) hand(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	p.inflight.Add(int64(len(b)))
	p.handed.Add(int64(len(b)))
	p.lastHand = int64(len(b))
	_ = p.nbc.SetWriteDeadline(time.Now().Add(p.s.cfg.WriteTimeout))
	if _, err := p.nbc.Write(b); err != nil {
		p.inflight.Add(-int64(len(b)))
		p.handed.Add(-int64(len(b)))
		return err
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
	p.s.stats.BytesOut.Add(uint64(p.curSize + HeaderLen*p.curN))
	p.cur, p.curSize, p.curN = nil, 0, 0
}

// dropBatch lets go of the current batch unwritten; the caller holds wmu.
func (p *nbPeer) dropBatch() {
	if p.cur != nil {
		p.q.Written(p.cur)
		p.cur.Release()
		p.cur = nil
	}
}

// fail abandons the connection after a failed write; the caller holds wmu.
func (p *nbPeer) fail(err error) {
	p.wfailed = true
	p.dropBatch()
	if errors.Is(err, nbio.ErrOverflow) { // counted before abandon closes it as dead
		p.slow(fmt.Sprintf("slow consumer: more than %d bytes waiting for the socket", p.s.cfg.QueueBytes))
	}
	p.abandon()
}

// control writes a PING or PONG between chunks (chunks end on frame
// boundaries), counted in flight. Once the peer is closing nothing more is
// written: finish flushes the queue and half-closes the connection. It
// reports false for a PONG not written because the last one still is not
// (pong).
func (p *nbPeer) control(typ byte, data []byte) bool {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.wfailed || p.isClosing() {
		return true
	}
	// What nbio holds past the writer's last hand-off (the writer hands
	// the next only once nbio wrote it) is PONGs.
	if typ == FramePong && p.handed.Load()-p.wrote.Load()-p.lastHand+int64(len(data)) > p.pongBacklog() {
		return false
	}
	h := Header(typ, len(data))
	b := append(h[:], data...)
	last := p.lastHand // the writer's, not this
	err := p.hand(b)
	p.lastHand = last
	if err != nil {
		p.fail(err)
		return true
	}
	p.s.stats.BytesOut.Add(uint64(len(b)))
	return true
}

// finish flushes what is queued (unless discarding), waits while the
// client takes what nbio still holds (closing the socket would drop it),
// half-closes the connection so that the client reads what was sent to
// its end (ABORT, GOODBYE) rather than a reset, waits for the client to
// close, within WriteTimeout, and closes the connection.
func (p *nbPeer) finish() {
	<-p.live
	if p.ping != nil {
		p.ping.Stop()
	}
	p.wmu.Lock()
	ok := !p.wfailed && !p.discard
	if ok {
		ok = p.flushAll() == nil
	}
	p.dropBatch()
	p.wfailed = true // nothing more is written
	p.wmu.Unlock()
	if ok {
		ch := make(chan struct{}, 1)
		p.progress.Store(&ch)
		if p.await(ch, func() bool { return p.inflight.Load() <= 0 }) {
			p.closeWrite()
			p.await(nil, func() bool { return false })
		}
	}
	_ = p.nbc.Close()
}

// await waits until cond holds (checked on each progress), the connection
// is closed, or WriteTimeout passes without progress; it reports whether
// cond came to hold.
func (p *nbPeer) await(progress chan struct{}, cond func() bool) bool {
	t := time.NewTimer(p.s.cfg.WriteTimeout)
	defer t.Stop()
	for !cond() {
		select {
		case <-p.done:
			return false
		case <-t.C:
			return false
		case <-progress:
			t.Reset(p.s.cfg.WriteTimeout)
		}
	}
	return true
}

// closeWrite half-closes the connection: the client reads what was written
// and then the end of the stream.
func (p *nbPeer) closeWrite() {
	rc, err := p.nbc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_WR) })
}

// flushAll hands nbio everything left, whatever it holds already (within
// its bound, QueueBytes): the last flush before closing.
func (p *nbPeer) flushAll() error {
	for {
		if p.cur == nil {
			b := p.q.Take()
			if b.Len() == 0 {
				p.q.Written(&b)
				return nil
			}
			p.cur, p.curSize, p.curN = &b, 0, 0
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
