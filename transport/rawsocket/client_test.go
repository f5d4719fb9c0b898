package rawsocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pipeRouter is a router end on a net.Pipe that accepts the handshake,
// announcing sendMax, and returns its side of the pipe.
func pipeRouter(t *testing.T, sendMax int) (*Conn, net.Conn) {
	t.Helper()
	cside, rside := net.Pipe()
	t.Cleanup(func() { _ = cside.Close(); _ = rside.Close() })
	accepted := make(chan error, 1)
	go func() {
		var b [4]byte
		if _, err := io.ReadFull(rside, b[:]); err != nil {
			accepted <- err
			return
		}
		h, err := ParseRequest(b)
		if err != nil {
			accepted <- err
			return
		}
		reply := Handshake{Serializer: h.Serializer, MaxLength: sendMax}.Bytes()
		_, err = rside.Write(reply[:])
		accepted <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Client(ctx, cside, SerializerJSON, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	return c, rside
}

// TestWriteDeadlineNotLeftBehind: a write bounded by a deadline that has
// passed fails, and the PONG the next PING asks for is not cut short by it.
func TestWriteDeadlineNotLeftBehind(t *testing.T) {
	t.Parallel()
	c, rside := pipeRouter(t, 1024)
	if c.SendMax() != 1024 || c.RecvMax() != MaxLength {
		t.Fatalf("SendMax %d, RecvMax %d", c.SendMax(), c.RecvMax())
	}
	err := c.WriteMessageDeadline([]byte("[1]"), time.Now().Add(-time.Second))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past its deadline: %v", err)
	}
	var tl *TooLargeError
	if err := c.WriteMessage(make([]byte, 1025)); !errors.As(err, &tl) || tl.Limit != 1024 {
		t.Fatalf("write over the router's maximum: %v", err)
	}

	read := make(chan []byte, 1)
	go func() {
		m, err := c.ReadMessage()
		if err != nil {
			t.Error(err)
		}
		read <- m
	}()
	ping := Header(FramePing, 4)
	if _, err := rside.Write(append(ping[:], "ping"...)); err != nil {
		t.Fatal(err)
	}
	typ, payload, err := ReadFrame(rside, 1024)
	if err != nil || typ != FramePong || string(payload) != "ping" {
		t.Fatalf("answer to PING: type %d %q %v", typ, payload, err)
	}
	msg := Header(FrameMessage, 3)
	if _, err := rside.Write(append(msg[:], "[2]"...)); err != nil {
		t.Fatal(err)
	}
	if m := <-read; !bytes.Equal(m, []byte("[2]")) {
		t.Fatalf("read %q", m)
	}

	go func() { _ = c.WriteMessageDeadline([]byte("[3]"), time.Now().Add(time.Minute)) }()
	if typ, payload, err := ReadFrame(rside, 1024); err != nil || typ != FrameMessage || string(payload) != "[3]" {
		t.Fatalf("bounded write: type %d %q %v", typ, payload, err)
	}
}

// TestPartialWriteCloses: a bounded write cut short after part of the
// frame went out (to a router that stopped reading) closes the
// connection, since the stream cannot go on.
func TestPartialWriteCloses(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	defer close(release)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var b [4]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return
		}
		reply := Handshake{Serializer: b[1] & 0x0F, MaxLength: MaxLength}.Bytes()
		_, _ = c.Write(reply[:])
		<-release // and read nothing more
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, Endpoint{Network: "tcp", Address: ln.Addr().String()}, SerializerJSON, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessageDeadline(make([]byte, MaxLength), time.Now().Add(200*time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a router that reads nothing: %v", err)
	}
	if _, err := c.ReadMessage(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after a partial write: %v, want the connection closed", err)
	}
}

// TestPongBounded: a router that sends a PING and then reads nothing
// cannot hold ReadMessage: the PONG's write fails after PongTimeout and
// ReadMessage returns its error. Before, it waited for ever, holding the
// write lock, so that no other write could go either.
func TestPongBounded(t *testing.T) {
	t.Parallel()
	c, rside := pipeRouter(t, 1024)
	c.PongTimeout = 100 * time.Millisecond
	read := make(chan error, 1)
	go func() {
		_, err := c.ReadMessage()
		read <- err
	}()
	ping := Header(FramePing, 4)
	if _, err := rside.Write(append(ping[:], "ping"...)); err != nil { // a pipe: written once read
		t.Fatal(err)
	}
	select {
	case err := <-read:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadMessage: %v, want the PONG's write past its deadline", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ReadMessage still blocked writing a PONG nobody reads")
	}
}
