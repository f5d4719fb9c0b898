package interop

import (
	"testing"

	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/testsuite"
	"github.com/junction-wamp/junction/transport/rawsocket"
)

// goDrivers are the Go clients in the matrix: ours and the nexus client, an
// independent implementation. They run testsuite's scenarios, in process.
var goDrivers = []testsuite.Driver{testsuite.ClientlibDriver{}, testsuite.NexusDriver{}}

// goScenarios are the testsuite scenarios the Go clients run, in the
// matrix's order.
func goScenarios() []testsuite.Scenario {
	return append(append([]testsuite.Scenario(nil), testsuite.Scenarios...), testsuite.AdvancedScenarios...)
}

// runGoClients runs every testsuite scenario with each Go client, transport
// and serializer against one in-process Junction and records each outcome
// in results: pass, fail, or n/a for a known deviation of the client (the
// skip's reason is the note).
func runGoClients(t *testing.T, results *matrix) {
	at := startJunction(t, []router.RealmConfig{{
		Name: "realm1", Anonymous: true, Roles: routertest.TrustedRoles("anonymous"), // session_kill
		EventHistory: []router.HistoryConfig{{Topic: "test", Match: "prefix", Limit: 10000}},
	}}, rawsocket.Config{})
	opts := testsuite.RunOptions{HistoryPrefix: "test"}
	for _, tr := range transports {
		target := testsuite.Target{URL: at[tr.id], Realm: "realm1"}
		for _, d := range goDrivers {
			for _, ser := range allSerializers {
				peers := []testsuite.PeerConfig{{Driver: d, Serializer: ser}}
				for _, sc := range goScenarios() {
					t.Run(d.Name()+"/"+tr.id+"/"+ser+"/"+sc.Name, func(t *testing.T) {
						key := caseKey{group: "go-" + d.Name(), transport: tr.id, serializer: ser, scenario: sc.Name}
						defer recordGo(t, results, key, d) // runs after t.Skip, t.Fatal and a return alike
						testsuite.RunScenario(t, target, peers, sc, opts)
					})
				}
			}
		}
	}
}

// recordGo records the outcome of the Go client d's case key, once its
// subtest t has run.
func recordGo(t *testing.T, results *matrix, key caseKey, d testsuite.Driver) {
	switch {
	case t.Failed():
		results.set(key, outcome{status: "fail", detail: "see the test log"})
	case t.Skipped():
		why := d.Name() + ": skipped by the scenario (see the test log)"
		if dv, ok := d.(testsuite.Deviator); ok && dv.Deviation(key.scenario, key.serializer) != "" {
			why = d.Name() + ": " + dv.Deviation(key.scenario, key.serializer)
		}
		results.set(key, outcome{status: "n/a", detail: why})
	default:
		results.set(key, outcome{status: "pass"})
	}
}
