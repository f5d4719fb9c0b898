package config

import (
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

func TestWebhookConfig(t *testing.T) { // not parallel: t.Setenv
	t.Setenv("HOOK_SECRET", "from-env")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Webhooks.Subscribers)+len(c.Webhooks.Callees) != 0 {
		t.Fatalf("the default config has webhooks: %+v", c.Webhooks)
	}
	c, err = Load(writeConfig(t, `
[[realms]]
name = "realm1"
auth = ["anonymous", "ticket"]
[[realms.roles]]
name = "anonymous"
[[realms.roles]]
name = "quotes"

[[bridge.subscriber]]
name = "orders"
realm = "realm1"
authid = "hook"
ticket = "t"
topic = "com.shop."
match = "prefix"
url = "https://hooks.example.com/orders"
headers = { Authorization = "Bearer x" }
secret_env = "HOOK_SECRET"
queue_messages = 10
queue_bytes = "1MiB"
retries = 0
backoff_base = "1s"
backoff_max = "1m"
timeout = "3s"
concurrency = 4

[[bridge.subscriber]]
realm = "realm1"
topic = "com.t"
url = "http://127.0.0.1:9000/"

[[bridge.callee]]
realm = "realm1"
role = "quotes"
procedure = "com.quote"
invoke = "roundrobin"
url = "http://127.0.0.1:9000/quote"
max_concurrent = 4
max_response_size = "64KiB"
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Webhooks.Subscribers
	if len(s) != 2 || s[0].Name != "orders" || s[0].AuthID != "hook" || s[0].Ticket != "t" || s[0].Topic != "com.shop." ||
		s[0].Match != wamp.MatchPrefix || s[0].URL != "https://hooks.example.com/orders" || s[0].Headers["authorization"] != "Bearer x" ||
		s[0].Secret != "from-env" || s[0].QueueMessages != 10 || s[0].QueueBytes != 1<<20 || s[0].Retries == nil || *s[0].Retries != 0 ||
		s[0].BackoffBase != time.Second || s[0].BackoffMax != time.Minute || s[0].Timeout != 3*time.Second || s[0].Concurrency != 4 {
		t.Errorf("subscriber[0] %+v", s[0])
	}
	if s[1].Retries != nil || s[1].QueueMessages != 0 || s[1].Timeout != 0 {
		t.Errorf("subscriber[1] %+v: left-out keys are not the defaults", s[1])
	}
	cl := c.Webhooks.Callees
	if len(cl) != 1 || cl[0].Role != "quotes" || cl[0].Procedure != "com.quote" || cl[0].Invoke != wamp.InvokeRoundRobin || cl[0].MaxConcurrent != 4 ||
		cl[0].MaxResponseBytes != 64<<10 {
		t.Errorf("callee %+v", cl)
	}
	if err := c.Webhooks.Validate(); err != nil {
		t.Error(err)
	}
}

func TestWebhookConfigRefused(t *testing.T) {
	t.Parallel()
	_, err := Load(writeConfig(t, `
[[bridge.subscriber]]
realm = "realm1"
topic = "com..t"
url = "ftp://x"
timeout = "soon"
queue_bytes = "lots"

[[bridge.callee]]
procedure = "com.p"
url = "http://x"
invoke = "all"
urls = "typo"
`))
	if err == nil {
		t.Fatal("invalid webhooks accepted")
	}
	for _, want := range []string{"urls"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	_, err = Load(writeConfig(t, `
[[bridge.subscriber]]
realm = "realm1"
topic = "com..t"
url = "ftp://x"
timeout = "soon"
queue_bytes = "lots"

[[bridge.callee]]
procedure = "com.p"
url = "http://x"
invoke = "all"

[[bridge.callee]]
realm = "nowhere"
procedure = "com.p"
url = "http://x"

[[bridge.callee]]
realm = "realm1"
authid = "hook"
ticket = "t"
procedure = "com.p"
url = "http://x"

[[realms]]
name = "realm1"
auth = ["anonymous"]

[[realms]]
name = "realm2"
auth = ["anonymous"]
[[realms.roles]]
name = "anonymous"

[[bridge.callee]]
realm = "realm2"
role = "nobody"
procedure = "com.p"
url = "http://x"
`))
	if err == nil {
		t.Fatal("invalid webhooks accepted")
	}
	for _, want := range []string{"bridge.callee[1].realm", "bridge.callee[2].authid", "bridge.callee[3].role", "bridge.subscriber[0].topic", "bridge.subscriber[0].url", "bridge.subscriber[0].timeout",
		"bridge.subscriber[0].queue_bytes", "bridge.callee[0].realm", "bridge.callee[0].invoke"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
