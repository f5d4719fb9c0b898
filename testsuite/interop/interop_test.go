package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
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
}

// knownLimits are the skips a program may report: things the client
// library cannot do. Any other skip fails the test.
var knownLimits = map[string]bool{
	"autobahnjs/json/binary_payload": true,
	"wampy/json/binary_payload":      true,
	"wampy/json/exclude_me_false":    true,
	"wampy/msgpack/exclude_me_false": true,
	"wampy/cbor/exclude_me_false":    true,
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
)

// A client is one WAMP library with the program that drives it.
type client struct {
	id          string // in subtest names, realm names and result lines
	name        string // in MATRIX.md
	serializers []string
	command     func(dir string, args ...string) (string, []string)
	check       func(dir string) (string, error) // what runs it, or what is missing
}

var clients = []*client{
	{
		id: "autobahnjs", name: "AutobahnJS", serializers: []string{"json", "msgpack", "cbor"},
		command: nodeCommand("autobahnjs.cjs"), check: checkNode,
	},
	{
		id: "wampy", name: "wampy.js", serializers: []string{"json", "msgpack", "cbor"},
		command: nodeCommand("wampy.mjs"), check: checkNode,
	},
	{
		id: "autobahn_python", name: "Autobahn|Python", serializers: []string{"json", "msgpack", "cbor"},
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

// A mixedCase is two libraries talking through the router: the server
// side (callee or subscriber) prints ready, then the other side runs.
type mixedCase struct {
	kind                 string // "call" or "pubsub"
	server, other        *client
	serverSer, otherSer  string
	serverScen, otherScn string
}

func (m mixedCase) name() string {
	return fmt.Sprintf("%s-%s_%s-%s", m.other.id, m.otherSer, m.server.id, m.serverSer)
}

func (m mixedCase) realm() string {
	return realmName("mixed", m.kind, m.other.id, m.otherSer, m.server.id, m.serverSer)
}

// binary says whether the payload carries bytes: the Node libraries' JSON
// serializers cannot (see knownLimits).
func (m mixedCase) binary() bool { return m.otherSer != "json" }

func mixedCases() []mixedCase {
	var out []mixedCase
	py, ab, wampy := clientByID("autobahn_python"), clientByID("autobahnjs"), clientByID("wampy")
	for _, ps := range py.serializers {
		for _, js := range []string{"json", "msgpack", "cbor"} {
			out = append(out, mixedCase{kind: "call", server: py, serverSer: ps, serverScen: "mixed_callee", other: ab, otherSer: js, otherScn: "mixed_caller"})
		}
	}
	for _, ps := range py.serializers {
		for _, js := range []string{"json", "msgpack", "cbor"} {
			out = append(out, mixedCase{kind: "pubsub", server: py, serverSer: ps, serverScen: "mixed_subscriber", other: wampy, otherSer: js, otherScn: "mixed_publisher"})
		}
	}
	return out
}

// TestInterop runs every client library, serializer and scenario, and the
// mixed cases, against one in-process Junction, and the mixed cases again
// across two clustered Junction nodes (mixed_across_nodes).
func TestInterop(t *testing.T) {
	dir, err := os.Getwd() // go test runs in the package directory
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CI") != "" {
		// CI must run every case: say once what is missing, and stop.
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
	fixture, principals := newAuthFixture()
	authJSON, _ := json.Marshal(fixture)

	var realms []router.RealmConfig
	for _, c := range clients {
		for _, ser := range c.serializers {
			for _, sc := range scenarios {
				rc := router.RealmConfig{Name: realmName(c.id, ser, sc), Anonymous: true}
				if strings.HasPrefix(sc, "auth_") {
					rc = router.RealmConfig{Name: rc.Name, AuthMethods: []router.AuthMethod{router.AuthWAMPCRA, router.AuthCryptosign}, Principals: principals}
				}
				realms = append(realms, rc)
			}
		}
	}
	var mixedRealms []router.RealmConfig
	for _, m := range mixedCases() {
		mixedRealms = append(mixedRealms, router.RealmConfig{Name: m.realm(), Anonymous: true})
	}
	realms = append(realms, mixedRealms...)
	// Every client comes from 127.0.0.1 and the auth scenarios of all of
	// them run at once: authentications in progress count against the
	// per-address failure limit, which would refuse some of them.
	srv := routertest.Start(t, routertest.Options{Router: router.Config{Realms: realms, AuthFailureLimit: -1}})

	results := newMatrix()
	t.Cleanup(func() {
		if os.Getenv(matrixEnv) == "" {
			return
		}
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
	})

	env := []string{
		"INTEROP_AUTH=" + string(authJSON),
		fmt.Sprintf("INTEROP_MIXED_EVENTS=%d", mixedEvents),
		fmt.Sprintf("INTEROP_SCENARIO_TIMEOUT_MS=%d", scenarioLimitS*1000),
	}
	for _, c := range clients {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			for _, ser := range c.serializers {
				t.Run(ser, func(t *testing.T) {
					t.Parallel()
					for _, sc := range scenarios {
						t.Run(sc, func(t *testing.T) {
							t.Parallel()
							key := caseKey{group: c.id, serializer: ser, scenario: sc}
							tool, err := c.check(dir)
							if err != nil {
								results.set(key, outcome{status: "missing", detail: err.Error()})
								missing(t, err)
							}
							results.setTool(c.id, tool)
							res := runProgram(t, dir, c, srv.URL, realmName(c.id, ser, sc), ser, sc, env)
							results.setLib(c.id, res.line.Lib)
							name := c.id + "/" + ser + "/" + sc
							report(t, results, key, res, knownLimits[name])
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
		runMixedCases(t, dir, srv.URL, srv.URL, env, results)
	})
	t.Run("mixed_across_nodes", func(t *testing.T) {
		t.Parallel()
		one, two := startCluster(t, mixedRealms)
		// The server side (callee, subscriber) is on node 2, the other side
		// on node 1: every call, result, error and event crosses NATS. The
		// matrix reports the cases on one node: these outcomes stay out of it.
		runMixedCases(t, dir, two.URL, one.URL, env, newMatrix())
	})
}

// runMixedCases runs every mixed case as a parallel subtest, the server
// side connected to serverURL and the other side to otherURL.
func runMixedCases(t *testing.T, dir, serverURL, otherURL string, env []string, results *matrix) {
	for _, m := range mixedCases() {
		t.Run(m.kind+"/"+m.name(), func(t *testing.T) {
			t.Parallel()
			key := caseKey{group: "mixed", serializer: m.kind, scenario: m.name()}
			for _, c := range []*client{m.server, m.other} {
				if _, err := c.check(dir); err != nil {
					results.set(key, outcome{status: "missing", detail: err.Error()})
					missing(t, err)
				}
			}
			runMixed(t, dir, serverURL, otherURL, m, env, results, key)
		})
	}
}

// startCluster starts two Junction nodes with realms, clustered over an
// in-process NATS, and waits until they know each other.
func startCluster(t *testing.T, realms []router.RealmConfig) (one, two *routertest.Server) {
	t.Helper()
	url := clustertest.StartNATS(t, clustertest.MaxPayload)
	opts := routertest.Options{Router: router.Config{Realms: realms, AuthFailureLimit: -1}} // one address, parallel auth scenarios
	a, b := clustertest.StartNode(t, url, "interop", 5*time.Second, opts), clustertest.StartNode(t, url, "interop", 5*time.Second, opts)
	clustertest.WaitFormed(t, a, b)
	return a.Server, b.Server
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

// runMixed runs one mixed case: the server side connects to serverURL, the
// other side to otherURL (the same router, or two nodes of a cluster).
func runMixed(t *testing.T, dir, serverURL, otherURL string, m mixedCase, env []string, results *matrix, key caseKey) {
	env = append(env[:len(env):len(env)], "INTEROP_MIXED_BINARY="+map[bool]string{true: "1", false: "0"}[m.binary()])
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	server, err := startProgram(ctx, dir, m.server, serverURL, m.realm(), m.serverSer, m.serverScen, env, true)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-server.ready:
	case <-server.done:
		res := server.result(m.server, m.serverSer, m.serverScen)
		results.set(key, outcome{status: "fail", detail: m.serverScen + " ended before it was ready"})
		t.Fatalf("%s ended before it was ready: %v\n%s", m.serverScen, res.err, res.output())
	case <-ctx.Done():
		results.set(key, outcome{status: "fail", detail: fmt.Sprintf("%s was not ready within %v", m.serverScen, caseTimeout)})
		t.Fatalf("%s was not ready within %v\n%s", m.serverScen, caseTimeout, server.output())
	}
	other := runProgram(t, dir, m.other, otherURL, m.realm(), m.otherSer, m.otherScn, env)
	_ = server.stdin.Close() // the callee leaves on EOF; the subscriber leaves after its events
	<-server.done
	sres := server.result(m.server, m.serverSer, m.serverScen)
	var fails []string
	for _, r := range []*programResult{other, sres} {
		if r.err != nil {
			fails = append(fails, fmt.Sprintf("%v\n%s", r.err, r.output()))
		} else if r.line.Result != "pass" {
			fails = append(fails, fmt.Sprintf("%s %s %s: %s: %s\n%s", r.line.Client, r.line.Serializer, r.line.Scenario, r.line.Result, r.line.Detail, r.output()))
		}
	}
	if len(fails) > 0 {
		results.set(key, outcome{status: "fail", detail: strings.SplitN(fails[0], "\n", 2)[0]})
		t.Error(strings.Join(fails, "\n"))
		return
	}
	results.set(key, outcome{status: "pass", detail: other.line.Detail + "; " + sres.line.Detail})
}

// resultLine is what a program prints for its case.
type resultLine struct {
	Client     string `json:"client"`
	Lib        string `json:"lib"`
	Serializer string `json:"serializer"`
	Scenario   string `json:"scenario"`
	Result     string `json:"result"`
	Detail     string `json:"detail"`
	Event      string `json:"event"`
}

type programResult struct {
	line           resultLine
	err            error // no or a wrong result line, or the program did not end well
	stdout, stderr string
	elapsed        time.Duration
}

func (r *programResult) output() string {
	return fmt.Sprintf("--- stdout:\n%s--- stderr:\n%s--- (ran %v)", tail(r.stdout), tail(r.stderr), r.elapsed.Round(time.Millisecond))
}

func tail(s string) string {
	const max = 8000
	if len(s) > max {
		s = "...\n" + s[len(s)-max:]
	}
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// program is a running scenario program.
type program struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	ready, done    chan struct{}
	start          time.Time
	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	lines          []resultLine
	waitErr        error
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startProgram(ctx context.Context, dir string, c *client, url, realm, ser, scenario string, env []string, withStdin bool) (*program, error) {
	name, args := c.command(dir, url, realm, ser, scenario)
	p := &program{ready: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	p.cmd = exec.CommandContext(ctx, name, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.WaitDelay = 5 * time.Second
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if withStdin {
		w, err := p.cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		p.stdin = w
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		var readyOnce sync.Once
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.stdout.Write(line)
			p.stdout.WriteByte('\n')
			p.mu.Unlock()
			var l resultLine
			if json.Unmarshal(line, &l) != nil {
				continue
			}
			if l.Event == "ready" {
				readyOnce.Do(func() { close(p.ready) })
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
		err := p.cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *program) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return (&programResult{stdout: p.stdout.String(), stderr: p.stderr.String(), elapsed: time.Since(p.start)}).output()
}

// result checks, once the program has ended, that it printed exactly one
// result line for the case it was given.
func (p *program) result(c *client, ser, scenario string) *programResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &programResult{stdout: p.stdout.String(), stderr: p.stderr.String(), elapsed: time.Since(p.start)}
	switch {
	case len(p.lines) != 1:
		r.err = fmt.Errorf("%s printed %d result lines, want 1 (exit: %v)", c.id, len(p.lines), p.waitErr)
	case p.lines[0].Client != c.id || p.lines[0].Serializer != ser || p.lines[0].Scenario != scenario:
		r.err = fmt.Errorf("result line for %s/%s/%s, want %s/%s/%s", p.lines[0].Client, p.lines[0].Serializer, p.lines[0].Scenario, c.id, ser, scenario)
	default:
		r.line = p.lines[0]
		if p.waitErr != nil && r.line.Result != "fail" {
			r.err = fmt.Errorf("%s reported %s but exited with %v", c.id, r.line.Result, p.waitErr)
		}
	}
	return r
}

// runProgram runs one program to its end.
func runProgram(t *testing.T, dir string, c *client, url, realm, ser, scenario string, env []string) *programResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	p, err := startProgram(ctx, dir, c, url, realm, ser, scenario, env, false)
	if err != nil {
		return &programResult{err: err}
	}
	<-p.done
	r := p.result(c, ser, scenario)
	if ctx.Err() != nil && r.err != nil {
		r.err = fmt.Errorf("killed after %v: %w", caseTimeout, r.err)
	}
	return r
}
