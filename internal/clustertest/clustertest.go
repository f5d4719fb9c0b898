// Package clustertest starts, for tests, a NATS server and in-process
// Junction nodes joined to a cluster over it, all on 127.0.0.1.
package clustertest

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/natstest"
	"github.com/junction-wamp/junction/internal/peek"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
)

// MaxPayload is the max_payload of Junction's embedded NATS server: above
// the default websocket.max_message_size, so a large call fits one message.
const MaxPayload = 64 << 20

// StartNATS runs a NATS server taking messages up to maxPayload until the
// test ends, and returns its client URL.
func StartNATS(t testing.TB, maxPayload int32) string { return natstest.Start(t, maxPayload) }

// Node is an in-process Junction that is a node of a cluster.
type Node struct {
	*routertest.Server
	Cluster *cluster.Node
}

// StartNode starts a Junction joined to the cluster named name on natsURL.
// It leaves the cluster before the router shuts down.
func StartNode(t testing.TB, natsURL, name string, timeout time.Duration, opts routertest.Options) *Node {
	t.Helper()
	return StartNodeConfig(t, cluster.Config{Name: name, NATSURL: natsURL, NodeTimeout: timeout}, opts)
}

// StartNodeConfig starts a Junction joined to the cluster cfg describes
// (its Faults and RepairInterval, say). It leaves the cluster before the
// router shuts down.
func StartNodeConfig(t testing.TB, cfg cluster.Config, opts routertest.Options) *Node {
	t.Helper()
	srv := routertest.Start(t, opts)
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("JUNCTION_CLUSTER_LOG") != "" { // to see what the nodes say while debugging a test
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := cluster.Start(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close) // cleanups run last first: before the router's
	if err := n.Run(srv.Router.AttachCluster(n)); err != nil {
		t.Fatal(err)
	}
	return &Node{srv, n}
}

// WaitFormed waits until each of nodes knows all the others, failing the
// test after 20 s.
func WaitFormed(t testing.TB, nodes ...*Node) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for n.Router.ClusterNodes() != len(nodes)-1 {
			if time.Now().After(deadline) {
				t.Fatal(fmt.Sprintf("the nodes did not see each other within 20s (one sees %d of %d)", n.Router.ClusterNodes(), len(nodes)-1))
			}
			time.Sleep(5 * time.Millisecond) // polls the condition above
		}
	}
}

// RemoteInterest reports whether a session of another node subscribed to a
// topic matching topic in realm of r: a publication on r would be sent there.
// It creates no realm.
func RemoteInterest(r *router.Router, realm, topic string) bool {
	return peek.RemoteInterest(r, realm, topic)
}

// RemoteCallees is the number of remote callees of procedure's registration
// in realm as r routes it (exact match first, then patterns).
func RemoteCallees(r *router.Router, realm, procedure string) int {
	return peek.RemoteCallees(r, realm, procedure)
}

// DrainingNodes is the number of other nodes r knows alive that announced
// they drain (router.Router.Shutdown): it routes new calls around their
// callees.
func DrainingNodes(r *router.Router) int { return peek.DrainingNodes(r) }

// RemoteRegistrations is the number of registrations of realm in r with a
// callee on another node.
func RemoteRegistrations(r *router.Router, realm string) int {
	return peek.RemoteRegistrations(r, realm)
}
