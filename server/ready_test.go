package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/internal/routertest"
)

// slowLink delays every message a node sends the others but its
// heartbeats: the others hear of it at once, and of its state late.
type slowLink struct{ delay time.Duration }

func (f slowLink) Out(subject string, data []byte, publish func([]byte)) {
	if strings.HasSuffix(subject, ".hb") {
		publish(data)
		return
	}
	data = bytes.Clone(data) // the node may reuse its buffer
	time.AfterFunc(f.delay, func() { publish(data) })
}

func (slowLink) In(string, []byte) bool { return true }

// TestNewNodeServesWithClusterState: a node that starts serves only once it
// holds the state of the nodes already there (here, one whose messages are
// slow to come), so the first call of a client sent to it by a load
// balancer finds a procedure registered on another node.
func TestNewNodeServesWithClusterState(t *testing.T) {
	t.Parallel()
	natsURL := clustertest.StartNATS(t, clustertest.MaxPayload)
	a := startFaultyNode(t, natsURL, "A", 5*time.Second, slowLink{delay: 300 * time.Millisecond})
	callee := drainConnect(t, a)
	if _, err := callee.Register(routertest.Context(t), "com.example.there", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{"there"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	b := startDrainNode(t, natsURL, "B", 5*time.Second) // serves once it has A's state
	res, err := drainConnect(t, b).Call(routertest.Context(t), "com.example.there", nil, nil, nil)
	if err != nil || len(res.Args) != 1 || res.Args[0] != "there" {
		t.Fatalf("first call on a node that just started: %v %v", res, err)
	}
}
