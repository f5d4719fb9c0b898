package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/internal/buildinfo"
	"github.com/junction-wamp/junction/internal/routertest"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 30 * time.Second

// cliRun is a run of the program in the test.
type cliRun = routertest.Program

// startCLI runs the program with args until it ends or the test stops it.
func startCLI(t *testing.T, opts runOptions, args ...string) *cliRun {
	t.Helper()
	return routertest.StartProgram(t, fmt.Sprintf("junction %q", args), func(ctx context.Context, stdout, stderr io.Writer) int {
		opts.stdout = stdout
		return runWith(ctx, args, stderr, opts)
	})
}

// runCLI runs the program with args to its end.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r := startCLI(t, runOptions{}, args...)
	code = r.Wait(t)
	return code, r.Stdout.String(), r.Stderr.String()
}

func TestCLIServe(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	addr, exit := startRun(ctx, t, []string{"serve", "--listen", "127.0.0.1:0"}, &logs)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz %d", resp.StatusCode)
	}
	// The router is a router: a client command works against it.
	if code, out, errs := runCLI(t, "call", "wamp.session.count", "--url", "ws://"+addr+"/ws"); code != 0 || out != "1\n" {
		t.Errorf("call: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("exit status %d: %s", code, logs.String())
	}
}

func TestCLIVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"serve", "--version"}} {
		code, out, errs := runCLI(t, args...)
		if want := "junction " + buildinfo.Read("").String() + "\n"; code != 0 || out+errs != want {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

func TestCLIHelpAndCompletion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help", "call"}, {"call", "--help"}, {"register", "-h"}, {"help"}} {
		code, _, errs := runCLI(t, args...)
		if code != 0 || !strings.Contains(errs, "Usage:") {
			t.Errorf("%q: exit %d, stderr:\n%s", args, code, errs)
		}
	}
	code, out, errs := runCLI(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: exit %d, stdout %.200q, stderr %s", code, out, errs)
	}
	// Completion of flag values.
	code, out, _ = runCLI(t, "__complete", "subscribe", "x", "--match", "")
	if code != 0 || !strings.Contains(out, "wildcard") {
		t.Errorf("__complete --match: exit %d, stdout %q", code, out)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "ws://" + ln.Addr().String() + "/ws"
	ln.Close()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, 2, `unknown command "bogus" for "junction"`},
		{[]string{"serve", "extra"}, 2, `unknown command "extra" for "junction serve"`},
		{[]string{"call"}, 2, "missing URI (see junction call --help)"},
		{[]string{"call", "x", "--kw", "novalue"}, 2, `--kw "novalue": want KEY=VALUE`},
		{[]string{"call", "x", "--kw", "=1"}, 2, "want KEY=VALUE"},
		{[]string{"call", "x", "1e999"}, 2, "out of range"},
		{[]string{"call", "x", "--serializer", "xml"}, 2, `--serializer "xml"`},
		{[]string{"call", "x", "--ticket", "a", "--ticket-file", "b"}, 2, "none of the others can be"},
		{[]string{"call", "x", "--tls-cert", "a"}, 2, "tls-key"},
		{[]string{"call", "x", "--ticket-env", "TEST_UNSET_VARIABLE_OF_JUNCTION"}, 2, "is not set"},
		{[]string{"call", "x", "--url", closed}, 1, "connecting to " + closed},
		{[]string{"call", "x", "--ticket-file", "/nonexistent/ticket"}, 1, "/nonexistent/ticket"},
		{[]string{"call", "x", "--cryptosign-key-file", "CONFIG:abc"}, 1, "cryptosign key: want 64 hex digits"},
		{[]string{"publish"}, 2, "missing URI"},
		{[]string{"subscribe", "x", "y"}, 2, `unexpected argument "y"`},
		{[]string{"subscribe", "x", "--match", "regex"}, 2, `--match "regex"`},
		{[]string{"subscribe", "x", "--count", "-1"}, 2, "--count -1"},
		{[]string{"register", "x"}, 2, "want URI -- COMMAND [ARG...]"},
		{[]string{"register", "x", "echo"}, 2, "want URI -- COMMAND [ARG...]"},
		{[]string{"register", "--", "echo"}, 2, "want URI -- COMMAND [ARG...]"},
		{[]string{"register", "x", "--", "/nonexistent/command"}, 2, "command /nonexistent/command"},
		{[]string{"register", "x", "--timeout", "0s", "--", "echo"}, 2, "--timeout 0s"},
		{[]string{"register", "x", "--invoke", "all", "--", "echo"}, 2, `--invoke "all"`},
		{[]string{"check-config"}, 2, "want one FILE"},
		{[]string{"version", "x"}, 2, `unknown command "x"`},
	}
	for _, tt := range tests {
		args := append([]string(nil), tt.args...)
		for i, a := range args {
			if body, ok := strings.CutPrefix(a, "CONFIG:"); ok {
				args[i] = writeConfig(t, body)
			}
		}
		code, out, errs := runCLI(t, args...)
		if code != tt.code || !strings.Contains(errs, tt.want) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant exit %d and %q", tt.args, code, out, errs, tt.code, tt.want)
		}
	}
}

// TestCLISubscribeSessionEnds: subscribe fails when the router goes away.
func TestCLISubscribeSessionEnds(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	addr, exit := startRun(ctx, t, []string{"--listen", "127.0.0.1:0"}, &logs)
	r := startCLI(t, runOptions{}, "subscribe", "com.test", "--url", "ws://"+addr+"/ws")
	r.Stderr.WaitFor(t, "subscribed to com.test")
	stop()
	<-exit
	if code := r.Wait(t); code != 1 || !strings.Contains(r.Stderr.String(), "session ended") {
		t.Errorf("exit %d: %s", code, r.Stderr.String())
	}
}

func TestCLICheckConfig(t *testing.T) {
	t.Parallel()
	ok := writeConfig(t, "[server]\nlisten = \"127.0.0.1:9000\"\n[log]\nlevel = \"debug\"\n")
	if code, out, errs := runCLI(t, "check-config", ok); code != 0 || out != "ok\n" || errs != "" {
		t.Errorf("valid: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, out, errs := runCLI(t, "check-config", "../../examples/secured/config.toml"); code != 1 || out != "" ||
		!strings.Contains(errs, "BILLING_SECRET") {
		t.Errorf("secured example without its secrets: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	bad := writeConfig(t, "[server]\nlisten = \"9000\"\nshutdown_grace = \"soon\"\n[websocket]\nserializers = [\"xml\"]\n")
	code, out, errs := runCLI(t, "check-config", bad)
	for _, want := range []string{bad + ": invalid config:", `server.listen = "9000"`, `server.shutdown_grace = "soon"`, `websocket.serializers = "xml"`} {
		if code != 1 || out != "" || !strings.Contains(errs, want) {
			t.Errorf("invalid: exit %d, stdout %q, stderr lacks %q:\n%s", code, out, want, errs)
		}
	}
	syntax := writeConfig(t, "[server]\nlisten = \n")
	if code, _, errs := runCLI(t, "check-config", syntax); code != 1 || !strings.HasPrefix(errs, "junction: config "+syntax+":2:10: ") {
		t.Errorf("syntax error: exit %d, stderr %s", code, errs)
	}
	unknown := writeConfig(t, "[serverr]\n")
	if code, _, errs := runCLI(t, "check-config", unknown); code != 1 || !strings.Contains(errs, "unknown key serverr") {
		t.Errorf("unknown key: exit %d, stderr %s", code, errs)
	}
	if code, _, errs := runCLI(t, "check-config", "/nonexistent/junction.toml"); code != 1 || !strings.Contains(errs, "/nonexistent/junction.toml") {
		t.Errorf("missing file: exit %d, stderr %s", code, errs)
	}
	// What serve checks only when it starts: the TLS files.
	tlsCfg := writeConfig(t, "[server]\ntls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"\n")
	if code, _, errs := runCLI(t, "check-config", tlsCfg); code != 1 || !strings.Contains(errs, "tls: loading /nonexistent/cert.pem") {
		t.Errorf("TLS files: exit %d, stderr %s", code, errs)
	}
}

// TestCLIDefaultConfig: default-config prints the repository's config.toml,
// which check-config accepts as a file to start from.
func TestCLIDefaultConfig(t *testing.T) {
	t.Parallel()
	code, out, errs := runCLI(t, "default-config")
	root, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || out != string(root) || errs != "" {
		t.Fatalf("exit %d, stderr %q, stdout %d bytes, want config.toml's %d", code, errs, len(out), len(root))
	}
	if code, out, errs := runCLI(t, "check-config", writeConfig(t, out)); code != 0 || out != "ok\n" {
		t.Errorf("check-config of the default: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	if code, _, _ := runCLI(t, "default-config", "x"); code != 2 {
		t.Errorf("default-config x: exit %d, want 2", code)
	}
}

// TestCLICheckConfigEnvironment: check-config applies and checks JUNCTION_*
// variables as serve does. Not parallel: it sets the environment.
func TestCLICheckConfigEnvironment(t *testing.T) {
	ok := writeConfig(t, "")
	t.Setenv("JUNCTION_LOG_LEVL", "debug")
	if code, _, errs := runCLI(t, "check-config", ok); code != 1 || !strings.Contains(errs, "environment variable JUNCTION_LOG_LEVL names no config key") {
		t.Errorf("misspelt variable: exit %d, stderr %s", code, errs)
	}
	// serve refuses it too, before listening.
	if code, _, errs := runCLI(t, "--listen", "127.0.0.1:0"); code != 2 || !strings.Contains(errs, "JUNCTION_LOG_LEVL") {
		t.Errorf("serve: exit %d, stderr %s", code, errs)
	}
	os.Unsetenv("JUNCTION_LOG_LEVL") // t.Setenv restores it
	t.Setenv("JUNCTION_LOG_LEVEL", "loud")
	if code, _, errs := runCLI(t, "check-config", ok); code != 1 || !strings.Contains(errs, `log.level = "loud"`) {
		t.Errorf("invalid variable: exit %d, stderr %s", code, errs)
	}
}

// TestCLITLS connects over wss:// and rss:// and authenticates with a
// client certificate.
func TestCLITLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	c1, k1 := ca.issue(t, "server", 100, true)
	write(t, certFile, c1)
	write(t, keyFile, k1)
	write(t, caFile, ca.pem)
	clientCert, clientKey := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	cc, ck := ca.issue(t, "device-1", 200, false)
	write(t, clientCert, cc)
	write(t, clientKey, ck)
	cfg := writeConfig(t, `
[server]
tls_cert = "`+certFile+`"
tls_key = "`+keyFile+`"
tls_client_ca = "`+caFile+`"
[[realms]]
name = "realm1"
auth = ["tls"]
[[realms.principals]]
authid = "device-1"
role = "device"
`)
	if code, out, errs := runCLI(t, "check-config", cfg); code != 0 || out != "ok\n" {
		t.Errorf("check-config: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	addr, exit := startRun(ctx, t, []string{"--config", cfg, "--listen", "127.0.0.1:0"}, &logs)
	for _, url := range []string{"wss://" + addr + "/ws", "rss://" + addr} { // RawSocket on the same port
		code, out, errs := runCLI(t, "call", "wamp.session.count", "--url", url, "--tls-ca", caFile, "--tls-cert", clientCert, "--tls-key", clientKey)
		if code != 0 || out != "1\n" {
			t.Errorf("%s, client certificate: exit %d, stdout %q, stderr %s", url, code, out, errs)
		}
		if code, _, errs := runCLI(t, "call", "wamp.session.count", "--url", url, "--tls-ca", caFile); code != 1 || !strings.Contains(errs, "wamp.error.") {
			t.Errorf("%s, no client certificate: exit %d, stderr %s", url, code, errs)
		}
		if code, _, errs := runCLI(t, "call", "wamp.session.count", "--url", url); code != 1 || !strings.Contains(errs, "certificate") {
			t.Errorf("%s, unknown CA: exit %d, stderr %s", url, code, errs)
		}
	}
	stop()
	<-exit
}
