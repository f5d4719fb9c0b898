package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRelativePaths checks that relative paths in a file are relative to
// the file's directory, not to the working directory, and that absolute
// ones are kept.
func TestRelativePaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, sub := range []string{"web", "secrets"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "alice"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "k1"), []byte("a bridge key's secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "junction.toml")
	body := `[server]
tls_cert = "tls/cert.pem"
tls_key = "/etc/junction/key.pem"
tls_client_ca = "./tls/ca.pem"
[rawsocket]
unix = "run/junction.sock"
[web]
dir = "web"
[[realms]]
name = "realm1"
auth = ["ticket"]
[[realms.principals]]
authid = "alice"
role = "user"
ticket_file = "secrets/alice"
[[realms.roles]]
name = "user"
[[bridge.keys]]
key = "k1"
realm = "realm1"
authid = "alice"
role = "user"
secret_file = "secrets/k1"
`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for key, got := range map[string]string{
		"server.tls_cert": c.TLSCert, "server.tls_key": c.TLSKey, "server.tls_client_ca": c.TLSClientCA,
		"rawsocket.unix": c.RawSocket.Unix, "web.dir": c.Web.Dir,
	} {
		want := map[string]string{
			"server.tls_cert": filepath.Join(dir, "tls/cert.pem"), "server.tls_key": "/etc/junction/key.pem",
			"server.tls_client_ca": filepath.Join(dir, "tls/ca.pem"), "rawsocket.unix": filepath.Join(dir, "run/junction.sock"),
			"web.dir": filepath.Join(dir, "web"),
		}[key]
		if got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if p := c.Router.Realms[0].Principals; len(p) != 1 || p[0].Ticket != "s3cret" {
		t.Errorf("ticket_file secrets/alice not read from the file's directory: %+v", p)
	}
	if k := c.Bridge.Keys; len(k) != 1 || k[0].Secret != "a bridge key's secret" {
		t.Errorf("bridge.keys secret_file secrets/k1 not read from the file's directory: %+v", k)
	}
}

// TestRelativePathFromEnvironment: a path set in the environment is
// relative to the working directory, as a path on a command line is (not
// parallel: t.Setenv, t.Chdir).
func TestRelativePathFromEnvironment(t *testing.T) {
	cwd := t.TempDir()
	if err := os.Mkdir(filepath.Join(cwd, "site"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)
	t.Setenv("JUNCTION_WEB_DIR", "site")
	c, err := Load(writeConfig(t, "[web]\ndir = \"elsewhere\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Web.Dir != "site" {
		t.Errorf("web.dir = %q, want the environment's \"site\" as given", c.Web.Dir)
	}
}

// TestSyntaxErrorPosition: a TOML syntax error names the file, line and
// column, and shows the line.
func TestSyntaxErrorPosition(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"missing value", "[server]\nlisten = \"127.0.0.1:8080\"\nmax_connections = \n", ":3:19: "},
		{"unclosed table", "\n\n[websocket\npath = \"/ws\"\n", ":3:"},
		{"bad string", "[log]\nlevel = \"info\n", ":2:"},
	}
	for _, tt := range tests {
		path := writeConfig(t, tt.body)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), path+tt.want) {
			t.Errorf("%s: error %v, want it to name %q", tt.name, err, path+tt.want)
		}
	}
}

// TestAllProblemsInOnePass: unknown keys, values of the wrong type and
// invalid values are reported together, each once.
func TestAllProblemsInOnePass(t *testing.T) {
	t.Parallel()
	body := `[server]
listen = "8080"
max_connections = "many"
bogus = 1
[serverr]
[websocket]
compression = "maybe"
ping_interval = "soon"
`
	_, err := Load(writeConfig(t, body))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"unknown key server.bogus, serverr ",
		`'server.max_connections'`,
		`'websocket.compression'`,
		`server.listen = "8080"`,
		`websocket.ping_interval = "soon"`,
	} {
		if strings.Count(msg, want) != 1 {
			t.Errorf("error names %q %d times, want once:\n%s", want, strings.Count(msg, want), msg)
		}
	}
	// The zero value left by the undecodable value is not a second problem.
	if strings.Contains(msg, "server.max_connections = ") {
		t.Errorf("server.max_connections reported twice:\n%s", msg)
	}
}

// TestUnknownEnvironmentWithInvalidValues: a misspelt JUNCTION_ variable
// is reported with the file's invalid values (not parallel: t.Setenv).
func TestUnknownEnvironmentWithInvalidValues(t *testing.T) {
	t.Setenv("JUNCTION_LOG_LEVL", "debug")
	_, err := Load(writeConfig(t, "[log]\nformat = \"xml\"\n"))
	if err == nil || !strings.Contains(err.Error(), "JUNCTION_LOG_LEVL names no config key") ||
		!strings.Contains(err.Error(), `log.format = "xml"`) {
		t.Errorf("error %v, want both the variable and log.format", err)
	}
}
