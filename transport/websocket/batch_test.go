package websocket

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"testing"
)

// recordConn is a net.Conn that records each Write call.
type recordConn struct {
	net.Conn // nil: only Write is used
	writes   [][]byte
	fail     error
}

func (c *recordConn) Write(p []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *recordConn) all() []byte { return bytes.Join(c.writes, nil) }

func TestBatchConnCoalesces(t *testing.T) {
	rc := &recordConn{}
	bc := newBatchConn(rc)

	if _, err := bc.Write([]byte("handshake")); err != nil || len(rc.writes) != 1 {
		t.Fatalf("outside a batch a write goes through: %v, %d writes", err, len(rc.writes))
	}
	bc.begin()
	for _, s := range []string{"one", "two", "three"} {
		if n, err := bc.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if len(rc.writes) != 1 {
		t.Fatalf("a batch wrote before its end: %d writes", len(rc.writes))
	}
	if err := bc.end(); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 2 || string(rc.writes[1]) != "onetwothree" {
		t.Fatalf("writes %q, want the batch in one write", rc.writes)
	}
	if bc.buf != nil || bc.bufs != nil {
		t.Fatal("an idle connection still holds a batch buffer")
	}
}

// TestBatchConnGathersFramesByReference: where the connection has writev,
// the bytes of shared frames are gathered by reference, so a batch of them
// borrows no copy buffer; the others are copied, contiguous ones into one
// slice; the order holds.
func TestBatchConnGathersFramesByReference(t *testing.T) {
	conn, wv := &recordConn{}, &recordConn{}
	bc := &batchConn{Conn: conn, wv: wv, writev: true}
	bc.begin()
	bc.lend(true)
	f1, f2 := []byte("frame1"), []byte("frame2")
	_, _ = bc.Write(f1)
	_, _ = bc.Write(f2)
	if bc.buf != nil {
		t.Fatal("frames were copied")
	}
	bc.lend(false)
	mutable := []byte("copy1")
	_, _ = bc.Write(mutable)
	copy(mutable, "XXXXX") // gorilla reuses its buffer once Write returns
	_, _ = bc.Write([]byte("copy2"))
	bc.lend(true)
	_, _ = bc.Write([]byte("frame3"))
	if err := bc.end(); err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(wv.writes))
	for i, w := range wv.writes {
		got[i] = string(w)
	}
	if want := []string{"frame1", "frame2", "copy1copy2", "frame3"}; !slices.Equal(got, want) {
		t.Fatalf("gathered %q, want %q", got, want)
	}
	if len(conn.writes) != 0 {
		t.Fatalf("%d writes bypassed the writev connection", len(conn.writes))
	}
}

func TestBatchConnLargeWritesKeepOrder(t *testing.T) {
	rc := &recordConn{}
	bc := newBatchConn(rc)
	big := bytes.Repeat([]byte("B"), bigWrite)
	bc.begin()
	_, _ = bc.Write([]byte("small1"))
	_, _ = bc.Write(big)
	_, _ = bc.Write([]byte("small2"))
	for range batchMax/1000 + 1 { // more than batchMax of small writes
		_, _ = bc.Write(bytes.Repeat([]byte("s"), 1000))
	}
	if err := bc.end(); err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte("small1"), big...), "small2"...), bytes.Repeat([]byte("s"), (batchMax/1000+1)*1000)...)
	if !bytes.Equal(rc.all(), want) {
		t.Fatal("bytes out of order or lost")
	}
	for _, w := range rc.writes {
		if len(w) > batchMax && !bytes.Equal(w, big) {
			t.Fatalf("a write of %d bytes: the batch buffer grew past batchMax", len(w))
		}
	}
}

func TestBatchConnReportsWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	rc := &recordConn{fail: boom}
	bc := newBatchConn(rc)
	bc.begin()
	if _, err := bc.Write([]byte("x")); err != nil {
		t.Fatalf("a batched write fails only at end: %v", err)
	}
	if err := bc.end(); !errors.Is(err, boom) {
		t.Fatalf("end = %v, want the write error", err)
	}
	if _, err := bc.Write([]byte("y")); !errors.Is(err, boom) {
		t.Fatalf("write after a failure = %v", err)
	}
}
