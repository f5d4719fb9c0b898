package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/websocket"
)

// TestMain clears JUNCTION_* variables so that the caller's environment
// cannot change what the parallel tests load.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix+"_") {
			os.Unsetenv(name)
		}
	}
	os.Exit(m.Run())
}

func TestEmbeddedConfigIsRootConfig(t *testing.T) {
	t.Parallel()
	root, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, defaultConfig) {
		t.Fatal("config/default_config.toml differs from the repository's config.toml, " +
			"which is the documented default; edit config.toml, then from the repository root run\n" +
			"\tcp config.toml config/default_config.toml")
	}
}

// TestDefaults checks that the embedded config loads to the documented
// values, which are also the packages' own defaults.
func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.ShutdownGrace != 10*time.Second ||
		c.ReadHeaderTimeout != 10*time.Second || c.IdleTimeout != 30*time.Second ||
		c.Connections.Connections != 100_000 || c.Connections.ConnectionsPerAddress != 1_000 ||
		c.LogFormat != "text" || c.LogLevel != slog.LevelInfo || c.LogMaxField != 1024 {
		t.Errorf("server/log: %+v", c)
	}
	ws := c.WebSocket
	if len(ws.AllowedOrigins) != 0 {
		t.Errorf("allowed_origins: %q", ws.AllowedOrigins)
	}
	ws.AllowedOrigins = nil
	if len(ws.TrustedProxies) != 0 {
		t.Errorf("trusted_proxies: %q", ws.TrustedProxies)
	}
	ws.TrustedProxies = nil
	if want := websocket.DefaultConfig(); !reflect.DeepEqual(ws, want) {
		t.Errorf("websocket:\n got %+v\nwant %+v", ws, want)
	}
	want := router.DefaultConfig()
	want.Realms = []router.RealmConfig{{Name: "realm1", Anonymous: true}}
	if !reflect.DeepEqual(c.Router, want) {
		t.Errorf("router:\n got %+v\nwant %+v", c.Router, want)
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

func TestFileOverrides(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, `
[server]
listen = "0.0.0.0:9000"
[log]
format = "json"
[websocket]
max_message_size = "1MiB"
queue_bytes = 65536
compression = false
serializers = ["cbor"]
allowed_origins = ["https://*.example.com"]
[router]
strict_uri = true
[[realms]]
name = "a.b"
auth = ["anonymous"]
disclose_caller = "always"
[[realms]]
name = "c"
auth = ["anonymous"]
[[realms.event_history]]
topic = "com.log"
match = "prefix"
limit = 10
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	ws := c.WebSocket
	if c.Listen != "0.0.0.0:9000" || c.LogFormat != "json" || ws.ReadLimit != 1<<20 || ws.QueueBytes != 65536 ||
		!ws.DisableCompression || len(ws.Serializers) != 1 || len(ws.AllowedOrigins) != 1 || !c.Router.StrictURI {
		t.Fatalf("overrides not applied: %+v", c)
	}
	if ws.Path != "/ws" || ws.QueueMessages != 16384 || c.ShutdownGrace != 10*time.Second || c.Router.HelloTimeout != 10*time.Second {
		t.Fatalf("defaults of keys the file leaves out lost: %+v", c)
	}
	realms := c.Router.Realms // the file's list replaces the default one
	if len(realms) != 2 || realms[0].Name != "a.b" || realms[0].DiscloseCaller != router.DiscloseAlways || realms[1].Name != "c" {
		t.Fatalf("realms: %+v", realms)
	}
	if h := realms[1].EventHistory; len(h) != 1 || h[0].Topic != "com.log" || h[0].Match != "prefix" || h[0].Limit != 10 {
		t.Fatalf("event history: %+v", h)
	}
}

func TestListenFlagOverridesFile(t *testing.T) {
	t.Parallel()
	c, err := LoadListen(writeConfig(t, "[server]\nlisten = \"0.0.0.0:9000\""), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:0" {
		t.Fatalf("listen %q", c.Listen)
	}
}

func TestAutoCreateRealmsWithoutRealms(t *testing.T) {
	t.Parallel()
	c, err := Load(writeConfig(t, "realms = []\n[router]\nauto_create_realms = true"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Router.Realms) != 0 || !c.Router.AutoCreateRealms {
		t.Fatalf("router: %+v", c.Router)
	}
}

// TestEnvOverrides sets one variable of each kind of value; the environment
// wins over the file and --listen over both.
func TestEnvOverrides(t *testing.T) {
	t.Setenv("JUNCTION_SERVER_LISTEN", "127.0.0.1:9999")
	t.Setenv("JUNCTION_WEBSOCKET_COMPRESSION", "false")
	t.Setenv("JUNCTION_WEBSOCKET_COMPRESSION_LEVEL", "5")
	t.Setenv("JUNCTION_WEBSOCKET_MAX_MESSAGE_SIZE", "2MiB")
	t.Setenv("JUNCTION_WEBSOCKET_SERIALIZERS", "msgpack,json")
	t.Setenv("JUNCTION_LOG_LEVEL", "debug")
	t.Setenv("JUNCTION_ROUTER_HELLO_TIMEOUT", "3s")
	t.Setenv("JUNCTION_ROUTER_AUTO_CREATE_REALMS", "true")
	file := writeConfig(t, "[router]\nhello_timeout = \"7s\"\n[log]\nlevel = \"error\"")
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	ws := c.WebSocket
	if c.Listen != "127.0.0.1:9999" || !ws.DisableCompression || ws.CompressionLevel != 5 || ws.ReadLimit != 2<<20 ||
		!reflect.DeepEqual(ws.Serializers, []string{"msgpack", "json"}) {
		t.Errorf("env not applied: %+v", c)
	}
	if c.LogLevel != slog.LevelDebug || c.Router.HelloTimeout != 3*time.Second || !c.Router.AutoCreateRealms {
		t.Errorf("env not applied over the file: %+v", c)
	}
	if c, err := LoadListen(file, "127.0.0.1:0"); err != nil || c.Listen != "127.0.0.1:0" {
		t.Errorf("--listen under JUNCTION_SERVER_LISTEN: %v %v", c, err)
	}
}

func TestEnvInvalidValueRefused(t *testing.T) {
	t.Setenv("JUNCTION_WEBSOCKET_PING_INTERVAL", "often")
	_, err := Load("")
	if err == nil || !strings.Contains(err.Error(), `websocket.ping_interval = "often"`) {
		t.Fatalf("error %v", err)
	}
}

func TestUnknownEnvRefused(t *testing.T) {
	for _, name := range []string{"JUNCTION_SERVER_LISTN", "JUNCTION_REALMS", "JUNCTION_SERVERR_LISTEN"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "x")
			_, err := Load("")
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("error %v, want one naming %s", err, name)
			}
		})
	}
}

// TestRefusedConfigs checks that every refusal names the key and, for an
// invalid value, the value.
func TestRefusedConfigs(t *testing.T) {
	t.Parallel()
	const realm = "[[realms]]\nname = \"r\"\nauth = [\"anonymous\"]\n"
	tests := []struct {
		name, body string
		want       []string
	}{
		{"unknown section", "[serverr]\nlisten = \"x\"", []string{"unknown key serverr"}},
		{"unknown empty section", "[serverr]", []string{"unknown key serverr"}},
		{"unknown top-level key", "listen = \"x\"", []string{"unknown key listen"}},
		{"unknown key", "[websocket]\npathh = \"/x\"", []string{"unknown key websocket.pathh"}},
		{"unknown subtable", "[websocket.extra]", []string{"unknown key websocket.extra"}},
		{"unknown realm key", realm + "secret = \"x\"", []string{"unknown key realms[0].secret"}},
		{"unknown history key", realm + "[[realms.event_history]]\ntopic = \"t\"\nsize = 1", []string{"realms[0].event_history[0].size"}},
		{"wrong type", "[websocket]\ncompression = \"maybe\"", []string{"websocket.compression", "maybe"}},
		{"bad toml", "[websocket\npath = 1", []string{"config.toml"}},
		{"bad listen", "[server]\nlisten = \"localhost\"", []string{"server.listen", `"localhost"`}},
		{"bad grace", "[server]\nshutdown_grace = \"10\"", []string{"server.shutdown_grace", `"10"`}},
		{"negative duration", "[router]\nhello_timeout = \"-1s\"", []string{"router.hello_timeout", `"-1s"`}},
		{"bad duration", "[websocket]\nping_interval = \"soon\"", []string{"websocket.ping_interval", `"soon"`}},
		{"bad size", "[websocket]\nmax_message_size = \"big\"", []string{"websocket.max_message_size", `"big"`}},
		{"zero size", "[websocket]\nqueue_bytes = 0", []string{"websocket.queue_bytes", `"0"`}},
		{"bad level", "[log]\nlevel = \"loud\"", []string{"log.level", `"loud"`}},
		{"bad format", "[log]\nformat = \"xml\"", []string{"log.format", `"xml"`}},
		{"compression level high", "[websocket]\ncompression_level = 12", []string{"websocket.compression_level = 12"}},
		{"compression level low", "[websocket]\ncompression_level = 0", []string{"websocket.compression_level = 0"}},
		{"bad serializer", "[websocket]\nserializers = [\"json\", \"xml\"]", []string{"websocket.serializers", `"xml"`}},
		{"no serializer", "[websocket]\nserializers = []", []string{"websocket.serializers"}},
		{"twice a serializer", "[websocket]\nserializers = [\"json\", \"json\"]", []string{"websocket.serializers", "twice"}},
		{"bad origin", "[websocket]\nallowed_origins = [\"https://[\"]", []string{"websocket.allowed_origins", `"https://["`}},
		{"bad queue", "[websocket]\nqueue_messages = -1", []string{"websocket.queue_messages = -1"}},
		{"bad path", "[websocket]\npath = \"ws\"", []string{"websocket.path", `"ws"`}},
		{"no realms", "realms = []", []string{"realms", "auto_create_realms"}},
		{"empty realm name", "[[realms]]\nname = \"\"\nauth = [\"anonymous\"]", []string{"realms[0].name", `""`}},
		{"invalid realm name", "[[realms]]\nname = \"my realm\"\nauth = [\"anonymous\"]", []string{"realms[0].name", `"my realm"`}},
		{"duplicate realm", realm + realm, []string{"realms[1].name", `"r"`, "duplicate"}},
		{"bad auth", "[[realms]]\nname = \"r\"\nauth = [\"kerberos\"]", []string{"realms[0].auth", `"kerberos"`, `"anonymous"`}},
		{"no auth", "[[realms]]\nname = \"r\"", []string{"realms[0].auth", `"anonymous"`}},
		{"bad auth timeout", "[router]\nauth_timeout = \"1\"", []string{"router.auth_timeout", `"1"`}},
		{"negative auth failures", "[router]\nauth_failures_per_minute = -1", []string{"router.auth_failures_per_minute = -1"}},
		{"bad disclosure", realm + "disclose_caller = \"sometimes\"", []string{"realms[0].disclose_caller", `"sometimes"`}},
		{"bad history match", realm + "[[realms.event_history]]\ntopic = \"t\"\nmatch = \"regex\"", []string{"realms[0].event_history[0].match", `"regex"`}},
		{"history without topic", realm + "[[realms.event_history]]\nlimit = 5", []string{"realms[0].event_history[0].topic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeConfig(t, tt.body))
			if err == nil {
				t.Fatalf("accepted; want an error naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "absent.toml")
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v, want one naming %s", err, p)
	}
}

func TestAllInvalidValuesReported(t *testing.T) {
	t.Parallel()
	_, err := Load(writeConfig(t, "[log]\nlevel = \"loud\"\nformat = \"xml\""))
	if err == nil || !strings.Contains(err.Error(), "log.level") || !strings.Contains(err.Error(), "log.format") {
		t.Fatalf("error %v, want both keys", err)
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1024", 1024}, {"10B", 10}, {" 7 ", 7},
		{"64KiB", 64 << 10}, {"16MiB", 16 << 20}, {"1GiB", 1 << 30}, {"16 MiB", 16 << 20},
		{"2KB", 2000}, {"3MB", 3_000_000}, {"1GB", 1_000_000_000},
		{"-1", -1},
	}
	for _, tt := range tests {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "x", "MiB", "1.5MiB", "16mib", "16 M", "1e6", "1KiB2", "99999999999GiB", "9223372036854775807KB"} {
		if n, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, n)
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
	c, err := Load(p)
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
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "realms[0].principals[0].ticket_env") {
		t.Fatalf("unset env secret: %v", err)
	}
}

// TestSecuredExample keeps the README's secured example loadable, and the
// README showing it as it is.
func TestSecuredExample(t *testing.T) {
	t.Setenv("BILLING_SECRET", "from-env")
	dir := t.TempDir()
	example, err := os.ReadFile("../examples/secured/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), string(example)) {
		t.Error("README.md does not show examples/secured/config.toml as it is")
	}
	// Point the file references at files that exist here.
	ticket := filepath.Join(dir, "alice.ticket")
	if err := os.WriteFile(ticket, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(example), "/etc/junction/secrets/alice.ticket", ticket)
	c, err := Load(writeConfig(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	rc := c.Router.Realms[0]
	if rc.Anonymous || len(rc.Principals) != 4 || len(rc.Roles) != 4 || rc.Principals[1].Secret != "from-env" || c.TLSCert == "" {
		t.Fatalf("secured example: %+v", rc)
	}
}
