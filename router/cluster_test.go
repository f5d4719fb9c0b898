package router

import (
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// captureBus records what a node sends.
type captureBus struct {
	id   string
	mu   sync.Mutex
	sent [][]byte
}

func (b *captureBus) ID() string                   { return b.id }
func (b *captureBus) NodeTimeout() time.Duration   { return time.Second }
func (b *captureBus) Silence(string) time.Duration { return 0 }
func (b *captureBus) Send(_ string, data []byte) error {
	b.mu.Lock()
	b.sent = append(b.sent, data)
	b.mu.Unlock()
	return nil
}
func (b *captureBus) SendAll(to []string, data []byte, _ time.Duration, done func(error)) {
	for _, id := range to {
		_ = b.Send(id, data)
	}
	done(nil)
}

// TestSnapshotInParts: a snapshot larger than one part arrives whole.
func TestSnapshotInParts(t *testing.T) {
	defer func(n int) { snapshotPart = n }(snapshotPart)
	snapshotPart = 3
	a := newTestRouter(t, Config{})
	busA := &captureBus{id: "000000000000000a"}
	a.AttachCluster(busA)
	for i := range 5 {
		p, _ := join(t, a, "json")
		register(t, p, 1, wamp.URI("com.example.p"+string(rune('0'+i))))
	}
	a.link.Load().nodeUp("000000000000000b")
	busA.mu.Lock()
	parts := busA.sent
	busA.mu.Unlock()
	if len(parts) < 4 { // 5 joins and 5 registrations in parts of 3
		t.Fatalf("snapshot sent in %d messages", len(parts))
	}
	b := newTestRouter(t, Config{})
	hb := b.AttachCluster(&captureBus{id: "000000000000000b"})
	for i, data := range parts {
		hb.Deliver("000000000000000a", data)
		if n := b.remoteRegistrations("realm1"); i < len(parts)-1 && n != 0 {
			t.Fatalf("part %d applied before the snapshot was whole (%d registrations)", i, n)
		}
	}
	if n := b.remoteRegistrations("realm1"); n != 5 {
		t.Fatalf("%d remote registrations after the snapshot, want 5", n)
	}
	if n := b.realm("realm1").SessionCount(); n != 5 {
		t.Fatalf("%d sessions after the snapshot, want 5", n)
	}
}
