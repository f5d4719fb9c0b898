package config

import (
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/bridge"
)

const bridgeRealm = `
[[realms]]
name = "realm1"
auth = ["anonymous", "ticket"]
[[realms.principals]]
authid = "alice"
role = "user"
ticket = "alice-ticket"
[[realms.roles]]
name = "user"
[[realms.roles.permissions]]
uri = "com.example."
match = "prefix"
call = true
[[realms.roles]]
name = "anonymous"
`

func TestBridgeConfig(t *testing.T) { // not parallel: t.Setenv
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Bridge.Enabled() || c.Bridge.MaxBody != 1<<20 || c.Bridge.MaxConcurrent != 256 || c.Bridge.TimestampWindow != time.Minute {
		t.Errorf("default [bridge] %+v", c.Bridge)
	}
	t.Setenv("SVC_SECRET", "0123456789abcdef-secret")
	t.Setenv("JUNCTION_BRIDGE_MAX_BODY", "64KiB")
	c, err = Load(writeConfig(t, bridgeRealm+`
[bridge]
max_call_timeout = "1m"
[[bridge.caller]]
path = "/call"
realm = "realm1"
auth = ["ticket", "signed", "anonymous"]
[[bridge.publisher]]
path = "/publish"
realm = "realm1"
auth = ["signed"]
[[bridge.keys]]
key = "svc"
secret_env = "SVC_SECRET"
realm = "realm1"
authid = "svc"
role = "user"
`))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bridge
	if b.MaxBody != 64<<10 || b.MaxCallTimeout != time.Minute || len(b.Callers) != 1 || len(b.Publishers) != 1 ||
		b.Callers[0].Auth[2] != bridge.AuthAnonymous || len(b.Keys) != 1 || b.Keys[0].Secret != "0123456789abcdef-secret" {
		t.Errorf("[bridge] %+v", b)
	}
}

func TestBridgeConfigRefused(t *testing.T) {
	t.Parallel()
	closed := strings.Replace(bridgeRealm, `"anonymous", `, "", 1)
	tests := []struct {
		name, body string
		want       []string
	}{
		{"unknown key", "[bridge]\nmax_size = 1", []string{"unknown key bridge.max_size"}},
		{"bad size", "[bridge]\nmax_body = \"lots\"", []string{"bridge.max_body"}},
		{"zero concurrency", "[bridge]\nmax_concurrent = 0", []string{"bridge.max_concurrent"}},
		{"websocket path", bridgeRealm + "[[bridge.caller]]\npath = \"/ws\"\nrealm = \"realm1\"\nauth = [\"ticket\"]", []string{"bridge", "websocket.path"}},
		{"metrics path", bridgeRealm + "[[bridge.publisher]]\npath = \"/metrics\"\nrealm = \"realm1\"\nauth = [\"ticket\"]", []string{"metrics.path"}},
		{"unknown realm", bridgeRealm + "[[bridge.caller]]\npath = \"/c\"\nrealm = \"nope\"\nauth = [\"ticket\"]", []string{"bridge.caller[0]", `"nope"`}},
		{"anonymous refused by the realm", closed + "[[bridge.caller]]\npath = \"/c\"\nrealm = \"realm1\"\nauth = [\"anonymous\"]", []string{"bridge.caller[0]", "refuses anonymous"}},
		{"unknown method", bridgeRealm + "[[bridge.caller]]\npath = \"/c\"\nrealm = \"realm1\"\nauth = [\"basic\"]", []string{"bridge.caller[0]", `"basic"`}},
		{"short secret", bridgeRealm + "[[bridge.keys]]\nkey = \"k\"\nsecret = \"x\"\nrealm = \"realm1\"\nauthid = \"a\"\nrole = \"user\"", []string{"bridge.keys[0]", "16 bytes"}},
		{"two secrets", bridgeRealm + "[[bridge.keys]]\nkey = \"k\"\nsecret = \"0123456789abcdef\"\nsecret_file = \"/x\"\nrealm = \"realm1\"\nauthid = \"a\"\nrole = \"user\"", []string{"bridge.keys[0].secret", "only one"}},
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
