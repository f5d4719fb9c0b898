//go:build linux

package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/junction-wamp/junction/serializers"
)

// The gobwas/ws candidate of the engines comparison (--engine gobwas):
// gobwas/ws v1.4.0 parses and writes the frames, and an epoll loop of our
// own (here, in bench code only: Junction does not ship it) tells which
// connections have input. An idle connection holds no goroutine and no
// buffer: its net.Conn and a map entry. A connection with input is handed
// to a worker, which reads the messages it has through a pooled reader,
// answers them in one write through a pooled writer, gives the buffers
// back and arms the connection again (EPOLLONESHOT: one worker per
// connection at a time). A frame that arrives in parts holds its worker
// until the rest comes (Go's netpoller waits for it): enough for a bench
// whose clients send whole frames, not for a product.

type gbConn struct {
	fd  int
	c   net.Conn
	ser serializers.Serializer
}

type gbServer struct {
	epfd  int
	mu    sync.Mutex
	conns map[int]*gbConn
	work  chan *gbConn
	rpool sync.Pool
	wpool sync.Pool
}

func serveGobwas(ln net.Listener) error {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	s := &gbServer{epfd: epfd, conns: map[int]*gbConn{}, work: make(chan *gbConn, 1024)}
	s.rpool.New = func() any { return bufio.NewReaderSize(nil, 4096) }
	s.wpool.New = func() any { return bufio.NewWriterSize(nil, 4096) }
	for range runtime.NumCPU() {
		go s.worker()
	}
	go s.loop()
	go s.accept(ln)
	return nil
}

func (s *gbServer) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go s.upgrade(c)
	}
}

// upgrade answers the handshake (wamp.2.json, msgpack or cbor) and puts
// the connection on the epoll set.
func (s *gbServer) upgrade(c net.Conn) {
	var ser serializers.Serializer
	u := ws.Upgrader{Protocol: func(p []byte) bool {
		var ok bool
		ser, ok = serializers.BySubprotocol(string(p))
		return ok
	}}
	if _, err := u.Upgrade(c); err != nil || ser == nil {
		_ = c.Close()
		return
	}
	fd, err := connFD(c)
	if err != nil {
		_ = c.Close()
		return
	}
	gc := &gbConn{fd: fd, c: c, ser: ser}
	s.mu.Lock()
	s.conns[fd] = gc
	s.mu.Unlock()
	if err := s.arm(fd, syscall.EPOLL_CTL_ADD); err != nil {
		s.drop(gc)
	}
}

func connFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errors.New("echorouter: not a syscall.Conn")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd int
	err = rc.Control(func(f uintptr) { fd = int(f) })
	return fd, err
}

func (s *gbServer) arm(fd int, op int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
	return syscall.EpollCtl(s.epfd, op, fd, &ev)
}

func (s *gbServer) drop(gc *gbConn) {
	s.mu.Lock()
	delete(s.conns, gc.fd)
	s.mu.Unlock()
	_ = syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_DEL, gc.fd, nil)
	_ = gc.c.Close()
}

// loop is the epoll loop: it hands each connection with input to a worker.
func (s *gbServer) loop() {
	events := make([]syscall.EpollEvent, 256)
	ready := make([]*gbConn, 0, len(events))
	for {
		n, err := syscall.EpollWait(s.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		ready = ready[:0]
		s.mu.Lock()
		for _, ev := range events[:n] {
			if gc := s.conns[int(ev.Fd)]; gc != nil {
				ready = append(ready, gc)
			}
		}
		s.mu.Unlock()
		for _, gc := range ready {
			s.work <- gc
		}
	}
}

func (s *gbServer) worker() {
	for gc := range s.work {
		if s.serve(gc) {
			if s.arm(gc.fd, syscall.EPOLL_CTL_MOD) != nil {
				s.drop(gc)
			}
		} else {
			s.drop(gc)
		}
	}
}

// serve reads the messages gc has (at least one), answers them in one
// write, and reports whether the connection stays.
func (s *gbServer) serve(gc *gbConn) bool {
	r := s.rpool.Get().(*bufio.Reader)
	w := s.wpool.Get().(*bufio.Writer)
	r.Reset(gc.c)
	w.Reset(gc.c)
	defer func() {
		r.Reset(nil)
		w.Reset(nil)
		s.rpool.Put(r)
		s.wpool.Put(w)
	}()
	rw := struct {
		io.Reader
		io.Writer
	}{r, w}
	for {
		data, op, err := wsutil.ReadClientData(rw)
		if err != nil {
			return false
		}
		b, end, err := answer(gc.ser, data)
		if err != nil || end {
			return false
		}
		if b != nil && wsutil.WriteServerMessage(w, op, b) != nil {
			return false
		}
		if r.Buffered() == 0 {
			return w.Flush() == nil
		}
	}
}
