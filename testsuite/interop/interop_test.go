package interop

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/rawsocket"
)

// scenarios run by every client and serializer, in the matrix's order.
var scenarios = []string{
	"join",
	"rpc_args_kwargs",
	"call_error",
	"no_such_procedure",
	"pubsub_ack",
	"exclude_me",
	"exclude_me_false",
	"pattern_prefix",
	"pattern_wildcard",
	"progressive_results",
	"call_cancel",
	"shared_roundrobin",
	"session_meta",
	"binary_payload",
	"payload_1mib",
	"concurrent_calls",
	"auth_wampcra",
	"auth_wampcra_salted",
	"auth_cryptosign",
	"auth_failure",
}

// rawSocketScenarios run over RawSocket only, after scenarios: over
// WebSocket, the libraries' WebSocket layers answer the router's pings.
var rawSocketScenarios = []string{"keepalive", "client_length_limit"}

// scenariosOver are the scenarios run over tr.
func scenariosOver(tr transport) []string {
	if tr == webSocket {
		return scenarios
	}
	return append(scenarios[:len(scenarios):len(scenarios)], rawSocketScenarios...)
}

// scenarioText describes each scenario in MATRIX.md.
var scenarioText = map[string]string{
	"join":                "join a realm, WELCOME with broker and dealer roles, the serializer asked for, GOODBYE",
	"rpc_args_kwargs":     "register/call with args and kwargs of every JSON type (64-bit int, float, unicode, nesting, empty containers)",
	"call_error":          "the callee's application error URI, args and kwargs reach the caller",
	"no_such_procedure":   "a call to an unregistered procedure gets wamp.error.no_such_procedure",
	"pubsub_ack":          "10 publications with acknowledge: PUBLISHED ids, events in order with args and kwargs",
	"exclude_me":          "a subscribed publisher does not get its own event by default",
	"exclude_me_false":    "with exclude_me=false the publisher gets its own event",
	"pattern_prefix":      "prefix subscription: matching topics delivered with details.topic, others not",
	"pattern_wildcard":    "wildcard subscription (com.interop..event): the same",
	"progressive_results": "3 progressive results then the final one",
	"call_cancel":         "CANCEL of a call in flight: the caller gets wamp.error.canceled (Autobahn|Python: its callee is interrupted) and the session goes on",
	"shared_roundrobin":   "3 callees with invoke=roundrobin take 9 calls in turn",
	"session_meta":        "wamp.session.count/list/get and on_join/on_leave",
	"binary_payload":      "256 bytes in args reach the callee as bytes and come back as bytes",
	"payload_1mib":        "a 1 MiB string through a call and an event",
	"concurrent_calls":    "2,000 calls in flight at once, every result right",
	"auth_wampcra":        "WAMP-CRA against a static principal: WELCOME authid, authrole, authmethod",
	"auth_wampcra_salted": "salted WAMP-CRA (PBKDF2 parameters in the CHALLENGE)",
	"auth_cryptosign":     "WAMP-cryptosign (Ed25519)",
	"auth_failure":        "WAMP-CRA with a wrong secret gets ABORT wamp.error.authentication_failed",
	"client_length_limit": "RawSocket only: a client announcing 64 KiB in its handshake is sent no larger message: a call to it, the result of its call and an acknowledged event to it end in wamp.error.payload_size_exceeded for their sender, and its session goes on",
	"keepalive":           "RawSocket only: an idle session stays up across two of the router's keepalive PINGs (ping_interval 250ms here), then a call goes through",
}

// knownLimits are the skips a program may report, as
// client/serializer/scenario (over any transport): things the client
// library cannot do. Any other skip fails the test.
var knownLimits = map[string]bool{
	"autobahnjs/json/binary_payload": true,
	"wampy/json/binary_payload":      true,
	"wampy/json/exclude_me_false":    true,
	"wampy/msgpack/exclude_me_false": true,
	"wampy/cbor/exclude_me_false":    true,
	// the router's PING ends the connection (see the program's detail)
	"autobahnjs/json/keepalive":         true,
	"autobahn_python/json/keepalive":    true,
	"autobahn_python/msgpack/keepalive": true,
	"autobahn_python/cbor/keepalive":    true,
}

const (
	caseTimeout    = 90 * time.Second
	pythonPath     = "/usr/bin/python3"
	nodeHint       = "run .ci/install-interop, or npm ci in testsuite/interop"
	pythonHint     = "run .ci/install-interop as root, or apt-get install python3-autobahn python3-msgpack python3-cbor2"
	matrixEnv      = "INTEROP_WRITE_MATRIX"
	mixedEvents    = 5
	authRole       = "interop"
	scenarioLimitS = 40
	// The keepalive scenario's router pings a RawSocket connection silent
	// for keepalivePing and closes it when silent keepalivePong after.
	keepalivePing = 250 * time.Millisecond
	keepalivePong = 2 * time.Second
)

// A transport is how a program reaches the router, told by the scheme of
// the URL it is given: ws:// (WebSocket), rs://host:port (RawSocket over
// TCP, on the WebSocket port: Junction tells them apart by the first
// octet) or unix:///path (RawSocket over a Unix socket).
type transport struct {
	id   string // in subtest, realm and mixed case names
	name string // in MATRIX.md
}

var (
	webSocket     = transport{id: "websocket", name: "WebSocket"}
	rawSocketTCP  = transport{id: "rawsocket_tcp", name: "RawSocket TCP"}
	rawSocketUnix = transport{id: "rawsocket_unix", name: "RawSocket Unix"}
	transports    = []transport{webSocket, rawSocketTCP, rawSocketUnix}
	// rawSocketListen is RawSocket on a TCP listener of its own, which only
	// mixed cases use: its protocol is RawSocket TCP's.
	rawSocketListen = transport{id: "rawsocket_listen", name: "RawSocket TCP, own listener"}
)

// targets are the URLs of one router, by transport id.
type targets map[string]string

// A client is one WAMP library with the program that drives it.
type client struct {
	id   string // in subtest names, realm names and result lines
	name string // in MATRIX.md
	// serializers are the serializers its program runs over each
	// transport, by transport id; lacking says why a transport without
	// serializers (or with fewer than WebSocket's) is not run (a note in
	// MATRIX.md).
	serializers map[string][]string
	lacking     map[string]string
	jsonBytes   bool // its JSON serializer carries bytes (the spec's "\u0000"+base64 strings)
	command     func(dir string, args ...string) (string, []string)
	check       func(dir string) (string, error) // what runs it, or what is missing
}

var allSerializers = []string{"json", "msgpack", "cbor"}

var clients = []*client{
	{
		id: "autobahnjs", name: "AutobahnJS",
		serializers: map[string][]string{webSocket.id: allSerializers, rawSocketTCP.id: {"json"}, rawSocketUnix.id: {"json"}},
		lacking: map[string]string{
			rawSocketTCP.id:  "AutobahnJS's Node RawSocket transport (lib/transport/rawsocket.js) speaks JSON only",
			rawSocketUnix.id: "AutobahnJS's Node RawSocket transport (lib/transport/rawsocket.js) speaks JSON only",
		},
		command: nodeCommand("autobahnjs.cjs"), check: checkNode,
	},
	{
		id: "wampy", name: "wampy.js",
		serializers: map[string][]string{webSocket.id: allSerializers},
		lacking: map[string]string{
			rawSocketTCP.id:  "wampy.js has no RawSocket transport: WebSocket only",
			rawSocketUnix.id: "wampy.js has no RawSocket transport: WebSocket only",
		},
		command: nodeCommand("wampy.mjs"), check: checkNode,
	},
	{
		id: "autobahn_python", name: "Autobahn|Python", jsonBytes: true,
		serializers: map[string][]string{webSocket.id: allSerializers, rawSocketTCP.id: allSerializers, rawSocketUnix.id: allSerializers},
		command: func(dir string, args ...string) (string, []string) {
			return pythonPath, append([]string{filepath.Join(dir, "autobahn_python.py")}, args...)
		},
		check: checkPython,
	},
}

func clientByID(id string) *client {
	for _, c := range clients {
		if c.id == id {
			return c
		}
	}
	panic("no client " + id)
}

func nodeCommand(script string) func(string, ...string) (string, []string) {
	return func(dir string, args ...string) (string, []string) {
		return "node", append([]string{filepath.Join(dir, script)}, args...)
	}
}

// Tool checks run once per test binary.
var (
	nodeOnce, pythonOnce   sync.Once
	nodeVersion, pyVersion string
	nodeMissing, pyMissing error
)

func checkNode(dir string) (string, error) {
	nodeOnce.Do(func() { nodeVersion, nodeMissing = findNode(dir) })
	return nodeVersion, nodeMissing
}

func findNode(dir string) (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not installed (Node 20 or later with npm is needed, then %s): %w", nodeHint, err)
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("node --version: %w", err)
	}
	version := strings.TrimSpace(string(out))
	if m := regexp.MustCompile(`^v(\d+)\.`).FindStringSubmatch(version); m == nil {
		return "", fmt.Errorf("node --version said %q", version)
	} else if major, _ := strconv.Atoi(m[1]); major < 20 {
		return "", fmt.Errorf("node %s is too old: Node 20 or later is needed", version)
	}
	// Every pinned dependency must be installed at its pinned version.
	var pkg struct{ Dependencies map[string]string }
	if err := readJSON(filepath.Join(dir, "package.json"), &pkg); err != nil {
		return "", err
	}
	for name, want := range pkg.Dependencies {
		var got struct{ Version string }
		if err := readJSON(filepath.Join(dir, "node_modules", name, "package.json"), &got); err != nil {
			return "", fmt.Errorf("npm package %s is not installed in testsuite/interop/node_modules: %s", name, nodeHint)
		}
		if got.Version != want {
			return "", fmt.Errorf("npm package %s is %s, package.json pins %s: %s", name, got.Version, want, nodeHint)
		}
	}
	return "Node " + version, nil
}

func checkPython(string) (string, error) {
	pythonOnce.Do(func() {
		if _, err := os.Stat(pythonPath); err != nil {
			pyMissing = fmt.Errorf("%s is missing (Debian's python3): %s", pythonPath, pythonHint)
			return
		}
		out, err := exec.Command(pythonPath, "-c", "import autobahn, msgpack, cbor2, nacl, sys; print('Python %d.%d.%d' % sys.version_info[:3])").CombinedOutput()
		if err != nil {
			pyMissing = fmt.Errorf("%s cannot import autobahn, msgpack, cbor2 and nacl (%s): %s", pythonPath, lastLine(out), pythonHint)
			return
		}
		pyVersion = strings.TrimSpace(string(out))
	})
	return pyVersion, pyMissing
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// missing skips the test, or fails it when CI is set: CI must run every case.
func missing(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%v (CI is set: a missing interop tool is a failure, not a skip)", err)
	}
	t.Skip(err)
}

// authFixture holds the principals of the auth realms, made fresh per run
// and handed to the programs in INTEROP_AUTH.
type authFixture struct {
	Role       string `json:"role"`
	CRA        cred   `json:"cra"`
	CRASalted  cred   `json:"cra_salted"`
	Cryptosign struct {
		AuthID string `json:"authid"`
		Seed   string `json:"seed"`
		Pubkey string `json:"pubkey"`
	} `json:"cryptosign"`
}

type cred struct {
	AuthID string `json:"authid"`
	Secret string `json:"secret"`
}

func newAuthFixture() (*authFixture, []router.Principal) {
	a := &authFixture{Role: authRole}
	a.CRA = cred{"cra-user", randomHex(16)}
	a.CRASalted = cred{"cra-salted-user", randomHex(16)}
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	a.Cryptosign.AuthID, a.Cryptosign.Seed, a.Cryptosign.Pubkey = "cryptosign-user", hex.EncodeToString(seed), hex.EncodeToString(pub)
	return a, []router.Principal{
		{AuthID: a.CRA.AuthID, Role: authRole, Secret: a.CRA.Secret},
		{AuthID: a.CRASalted.AuthID, Role: authRole, Secret: a.CRASalted.Secret, Salt: randomHex(8), Iterations: 1000, KeyLen: 32},
		{AuthID: a.Cryptosign.AuthID, Role: authRole, PublicKeys: []string{a.Cryptosign.Pubkey}},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func realmName(parts ...string) string { return "interop." + strings.Join(parts, ".") }

// TestInterop runs every client library over each of its transports and
// serializers through every scenario, and the mixed cases, against one
// in-process Junction, and the mixed cases over WebSocket again across two
// clustered Junction nodes (mixed_across_nodes).
func TestInterop(t *testing.T) {
	dir, err := os.Getwd() // go test runs in the package directory
	if err != nil {
		t.Fatal(err)
	}
	requireTools(t, dir)
	fixture, principals := newAuthFixture()
	authJSON, _ := json.Marshal(fixture)

	realms, keepalive := scenarioRealms(principals)
	for _, m := range mixedCases() {
		realms = append(realms, router.RealmConfig{Name: m.realm(), Anonymous: true})
	}
	routers := map[bool]targets{ // keepalive or not
		false: startJunction(t, realms, rawsocket.Config{}),
		true:  startJunction(t, keepalive, rawsocket.Config{PingInterval: keepalivePing, PongTimeout: keepalivePong}),
	}
	results := newMatrix()
	t.Cleanup(func() {
		if os.Getenv(matrixEnv) != "" {
			writeMatrix(t, dir, results)
		}
	})

	env := []string{
		"INTEROP_AUTH=" + string(authJSON),
		fmt.Sprintf("INTEROP_MIXED_EVENTS=%d", mixedEvents),
		fmt.Sprintf("INTEROP_SCENARIO_TIMEOUT_MS=%d", scenarioLimitS*1000),
	}
	for _, c := range clients {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			for _, tr := range transports {
				if len(c.serializers[tr.id]) == 0 {
					continue
				}
				t.Run(tr.id, func(t *testing.T) {
					t.Parallel()
					for _, ser := range c.serializers[tr.id] {
						t.Run(ser, func(t *testing.T) {
							t.Parallel()
							runScenarios(t, dir, c, tr, ser, routers, env, results)
						})
					}
				})
			}
		})
	}
	t.Run("go", func(t *testing.T) {
		t.Parallel()
		runGoClients(t, results)
	})
	t.Run("mixed", func(t *testing.T) {
		t.Parallel()
		runMixedCases(t, dir, mixedCases(), routers[false], routers[false], env, results)
	})
	t.Run("mixed_across_nodes", func(t *testing.T) {
		t.Parallel()
		runMixedAcrossNodes(t, dir, env)
	})
}

// requireTools fails the test, when CI is set, if a client's tools are
// missing, saying once what each lacks: CI must run every case.
func requireTools(t *testing.T, dir string) {
	t.Helper()
	if os.Getenv("CI") == "" {
		return
	}
	var missing []string
	for _, c := range clients {
		if _, err := c.check(dir); err != nil && !slices.Contains(missing, err.Error()) {
			missing = append(missing, err.Error())
		}
	}
	if len(missing) > 0 {
		t.Fatalf("CI is set, so a missing interop tool is a failure, not a skip:\n%s", strings.Join(missing, "\n"))
	}
}

// scenarioRealms are the realms of the scenarios, one per client,
// transport, serializer and scenario: those of keepalive apart.
func scenarioRealms(principals []router.Principal) (realms, keepalive []router.RealmConfig) {
	for _, c := range clients {
		for _, tr := range transports {
			for _, ser := range c.serializers[tr.id] {
				for _, sc := range scenariosOver(tr) {
					rc := router.RealmConfig{Name: realmName(c.id, tr.id, ser, sc), Anonymous: true}
					switch {
					case sc == "keepalive":
						keepalive = append(keepalive, rc)
						continue
					case strings.HasPrefix(sc, "auth_"):
						rc = router.RealmConfig{Name: rc.Name, AuthMethods: []router.AuthMethod{router.AuthWAMPCRA, router.AuthCryptosign}, Principals: principals}
					}
					realms = append(realms, rc)
				}
			}
		}
	}
	return realms, keepalive
}

// writeMatrix writes MATRIX.md and the README's matrix from results.
func writeMatrix(t *testing.T, dir string, results *matrix) {
	path := filepath.Join(dir, "MATRIX.md")
	md := results.markdown()
	if err := os.WriteFile(path, md, 0o644); err != nil {
		t.Errorf("writing %s: %v", path, err)
		return
	}
	t.Logf("wrote %s", path)
	readme := filepath.Join(dir, "..", "..", "README.md")
	if err := spliceReadme(readme, md); err != nil {
		t.Errorf("README: %v", err)
		return
	}
	t.Logf("updated the matrix in %s", readme)
}

// runScenarios runs every scenario of client c over transport tr with
// serializer ser, each a parallel subtest: keepalive against the router
// of routers[true], the others against routers[false].
func runScenarios(t *testing.T, dir string, c *client, tr transport, ser string, routers map[bool]targets, env []string, results *matrix) {
	for _, sc := range scenariosOver(tr) {
		t.Run(sc, func(t *testing.T) {
			t.Parallel()
			key := caseKey{group: c.id, transport: tr.id, serializer: ser, scenario: sc}
			tool, err := c.check(dir)
			if err != nil {
				results.set(key, outcome{status: "missing", detail: err.Error()})
				missing(t, err)
			}
			results.setTool(c.id, tool)
			url := routers[sc == "keepalive"][tr.id]
			res := runProgram(t, dir, c, url, realmName(c.id, tr.id, ser, sc), ser, sc, env)
			results.setLib(c.id, res.line.Lib)
			report(t, results, key, res, knownLimits[c.id+"/"+ser+"/"+sc])
		})
	}
}

// report turns a program's result into the subtest's outcome.
func report(t *testing.T, results *matrix, key caseKey, res *programResult, skipAllowed bool) {
	t.Helper()
	l := res.line
	switch {
	case res.err != nil:
		results.set(key, outcome{status: "fail", detail: res.err.Error()})
		t.Errorf("%v\n%s", res.err, res.output())
	case l.Result == "pass":
		results.set(key, outcome{status: "pass", detail: l.Detail})
		if l.Detail != "" {
			t.Log(l.Detail)
		}
		if os.Getenv("INTEROP_STDERR") != "" && strings.TrimSpace(res.stderr) != "" {
			t.Logf("the program's stderr:\n%s", tail(res.stderr))
		}
	case l.Result == "skip" && skipAllowed:
		results.set(key, outcome{status: "n/a", detail: l.Detail})
		t.Skip("client limitation: " + l.Detail)
	case l.Result == "skip":
		results.set(key, outcome{status: "fail", detail: "unexpected skip: " + l.Detail})
		t.Errorf("the program skipped a case not listed in knownLimits: %s\n%s", l.Detail, res.output())
	default:
		results.set(key, outcome{status: "fail", detail: l.Detail})
		t.Errorf("%s %s %s: %s\n%s", l.Client, l.Serializer, l.Scenario, l.Detail, res.output())
	}
}
