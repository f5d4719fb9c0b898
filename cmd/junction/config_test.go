package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedConfigIsRootConfig(t *testing.T) {
	t.Parallel()
	root, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, defaultConfig) {
		t.Fatal("cmd/junction/default_config.toml differs from config.toml: run `cp config.toml cmd/junction/default_config.toml`")
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := loadConfig("", "")
	if err != nil {
		t.Fatal(err)
	}
	ws := c.WebSocket
	switch {
	case c.Listen != "127.0.0.1:8080", c.ShutdownGrace != 10*time.Second, c.LogFormat != "text":
		t.Fatalf("server/log defaults: %+v", c)
	case ws.Path != "/ws", len(ws.Serializers) != 3, !ws.Compression, ws.CompressionLevel != 1:
		t.Fatalf("websocket defaults: %+v", ws)
	case ws.ReadLimit != 16<<20, ws.QueueBytes != 16<<20, ws.QueueMessages != 4096:
		t.Fatalf("websocket limits: %+v", ws)
	case ws.PingInterval != 30*time.Second, ws.PongTimeout != 20*time.Second, ws.SlowConsumerTimeout != 5*time.Second:
		t.Fatalf("websocket timeouts: %+v", ws)
	case len(c.Router.Realms) != 1 || c.Router.Realms[0].Name != "realm1" || !c.Router.Realms[0].Anonymous:
		t.Fatalf("realms: %+v", c.Router.Realms)
	case c.Router.HelloTimeout != 10*time.Second, c.Router.AutoCreateRealms, c.Router.StrictURI:
		t.Fatalf("router: %+v", c.Router)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileOverridesAndListenFlag(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, `
[websocket]
max_message_size = "1MiB"
compression = false
allowed_origins = ["https://*.example.com"]
[[realms]]
name = "a.b"
auth = ["anonymous"]
[[realms]]
name = "closed"
auth = []
[[realms.event_history]]
topic = "com.log"
match = "prefix"
limit = 10
`)
	c, err := loadConfig(p, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:0" || c.WebSocket.ReadLimit != 1<<20 || c.WebSocket.Compression {
		t.Fatalf("overrides not applied: %+v", c)
	}
	if c.WebSocket.Path != "/ws" || c.WebSocket.QueueMessages != 4096 {
		t.Fatalf("defaults lost: %+v", c.WebSocket)
	}
	if h := c.Router.Realms[1].EventHistory; len(h) != 1 || h[0].Topic != "com.log" || h[0].Limit != 10 {
		t.Fatalf("event history: %+v", h)
	}
	if len(c.Router.Realms) != 2 || c.Router.Realms[0].Name != "a.b" || c.Router.Realms[1].Anonymous {
		t.Fatalf("realms: %+v", c.Router.Realms)
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Setenv("JUNCTION_SERVER_LISTEN", "127.0.0.1:9999")
	t.Setenv("JUNCTION_WEBSOCKET_COMPRESSION", "false")
	t.Setenv("JUNCTION_LOG_LEVEL", "debug")
	t.Setenv("JUNCTION_ROUTER_HELLO_TIMEOUT", "3s")
	c, err := loadConfig("", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.WebSocket.Compression || c.LogLevel.String() != "DEBUG" || c.Router.HelloTimeout != 3*time.Second {
		t.Fatalf("env not applied: %+v", c)
	}
}

func TestRefusedConfigs(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"unknown section", "[serverr]\nlisten = \"x\"", "serverr"},
		{"unknown key", "[websocket]\npathh = \"/x\"", "pathh"},
		{"unknown realm key", "[[realms]]\nname = \"r\"\nauth = [\"anonymous\"]\nsecret = \"x\"", "secret"},
		{"bad duration", "[websocket]\nping_interval = \"soon\"", "websocket.ping_interval"},
		{"bad size", "[websocket]\nmax_message_size = \"big\"", "websocket.max_message_size"},
		{"bad level", "[log]\nlevel = \"loud\"", "log.level"},
		{"bad format", "[log]\nformat = \"xml\"", "log.format"},
		{"bad compression level", "[websocket]\ncompression_level = 12", "websocket.compression_level"},
		{"bad serializer", "[websocket]\nserializers = [\"xml\"]", "websocket.serializers"},
		{"empty realm", "[[realms]]\nname = \"\"\nauth = [\"anonymous\"]", "realms[0].name"},
		{"duplicate realm", "[[realms]]\nname = \"r\"\nauth = [\"anonymous\"]\n[[realms]]\nname = \"r\"\nauth = [\"anonymous\"]", "duplicate realm"},
		{"bad auth", "[[realms]]\nname = \"r\"\nauth = [\"kerberos\"]", "realms[0].auth"},
		{"bad path", "[websocket]\npath = \"ws\"", "websocket.path"},
		{"bad disclosure", "[[realms]]\nname = \"r\"\nauth = [\"anonymous\"]\ndisclose_caller = \"sometimes\"", "realms[0].disclose_caller"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(writeConfig(t, tt.body), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"1024": 1024, "64KiB": 64 << 10, "16MiB": 16 << 20, "1GiB": 1 << 30, "2KB": 2000, "3 MB": 3000000, "10B": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1.5MiB", "-", "99999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestSecuredRealmConfig(t *testing.T) {
	t.Setenv("JT_ALICE_TICKET", "from-env")
	secretFile := filepath.Join(t.TempDir(), "bob.secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := writeConfig(t, `
[router]
auth_failures_per_minute = 5
[[realms]]
name = "secure"
auth = ["ticket", "wampcra"]
[[realms.principals]]
authid = "alice"
role = "user"
ticket_env = "JT_ALICE_TICKET"
[[realms.principals]]
authid = "bob"
role = "user"
secret_file = "`+secretFile+`"
salt = "pepper"
[[realms.roles]]
name = "user"
[[realms.roles.permissions]]
uri = "com.example."
match = "prefix"
call = true
`)
	c, err := loadConfig(p, "")
	if err != nil {
		t.Fatal(err)
	}
	rc := c.Router.Realms[0]
	if rc.Anonymous || len(rc.AuthMethods) != 2 || c.Router.AuthFailureLimit != 5 {
		t.Fatalf("realm %+v", rc)
	}
	if rc.Principals[0].Ticket != "from-env" || rc.Principals[1].Secret != "from-file" || rc.Principals[1].Salt != "pepper" {
		t.Fatalf("principals %+v", rc.Principals)
	}
	if len(rc.Roles) != 1 || !rc.Roles[0].Permissions[0].Call || rc.Roles[0].Permissions[0].Publish {
		t.Fatalf("roles %+v", rc.Roles)
	}
	bad := writeConfig(t, "[[realms]]\nname = \"r\"\nauth = [\"ticket\"]\n[[realms.principals]]\nauthid = \"a\"\nrole = \"r\"\nticket_env = \"JT_NOT_SET_ANYWHERE\"")
	if _, err := loadConfig(bad, ""); err == nil || !strings.Contains(err.Error(), "realms[0].principals[0].ticket_env") {
		t.Fatalf("unset env secret: %v", err)
	}
}
