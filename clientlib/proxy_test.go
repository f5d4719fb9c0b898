package clientlib_test

import (
	"net"
	"sync"
	"testing"
)

// tcpProxy forwards TCP connections from its own address on 127.0.0.1 to
// a router's, and can make the network fail: stall (it stops reading and
// forwarding either way, as a peer or a route that hangs: what the client
// writes fills the socket buffers, then its writes block), cut (the
// connections close) or refuse new connections.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	cond    *sync.Cond
	stalled bool
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// addr is the proxy's host:port.
func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies from src to dst, holding off while the proxy is stalled.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		if !p.wait(src) {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(src) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or closed: dst is closed in turn
			return
		}
	}
}

// wait waits while the proxy is stalled; false once c was closed.
func (p *tcpProxy) wait(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.stalled && p.conns[c] {
		p.cond.Wait()
	}
	return p.conns[c]
}

// stall stops (true) or resumes (false) all traffic.
func (p *tcpProxy) stall(on bool) {
	p.mu.Lock()
	p.stalled = on
	p.cond.Broadcast()
	p.mu.Unlock()
}

// cut closes every connection through the proxy (new ones are accepted).
func (p *tcpProxy) cut() {
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// close refuses new connections and cuts the others, then waits for its
// goroutines.
func (p *tcpProxy) close() {
	_ = p.ln.Close()
	p.cut()
	p.wg.Wait()
}
