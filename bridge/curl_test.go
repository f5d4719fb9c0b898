package bridge_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestCurl runs the README's examples with curl: a call with a ticket and
// a signed publication. Without curl the test is skipped, unless CI is
// set: CI must run it.
func TestCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("curl is not installed (CI is set: a missing tool is a failure, not a skip): %v", err)
		}
		t.Skip("curl is not installed")
	}
	f := start(t, bridgeConfig())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	run := func(args ...string) map[string]any {
		t.Helper()
		out, err := exec.CommandContext(ctx, curl, append([]string{"-sS", "--fail-with-body"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %q: %v: %s", args, err, out)
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("curl %q printed %q", args, out)
		}
		return v
	}
	v := run("-H", "Authorization: Bearer "+aliceTicket, "-H", "Content-Type: application/json",
		"-d", `{"procedure": "com.example.add", "args": [2, 3]}`, f.base+"/call")
	if args, _ := v["args"].([]any); len(args) != 1 || args[0] != 5.0 {
		t.Errorf("call: %v", v)
	}
	body := `{"topic": "com.example.news", "args": ["hello"]}`
	v = run("-H", "Content-Type: application/json", "--data-binary", body,
		f.base+signedPath("/publish", keyName, keySecret, time.Now(), 42, body))
	if id, _ := v["id"].(float64); id <= 0 {
		t.Errorf("publish: %v", v)
	}

	// The README's recipe for a signature with openssl.
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", signScript)
	cmd.Env = append(os.Environ(), "KEY="+keyName, "SECRET="+keySecret, "URL="+f.base+"/publish")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the README's signing recipe: %v: %s", err, out)
	}
	if err := json.Unmarshal(out, &v); err != nil || v["id"] == nil {
		t.Errorf("the README's signing recipe printed %q", out)
	}
}

// signScript is the README's recipe (section "HTTP bridge"), with KEY,
// SECRET and URL from the environment.
const signScript = `set -e
BODY='{"topic": "com.example.news", "args": ["hello"]}'
TS=$(date -u +%Y-%m-%dT%H:%M:%SZ)
SEQ=1
NONCE=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
SIG=$(printf '%s' "$KEY$TS$SEQ$NONCE$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | openssl base64 -A | tr '+/' '-_')
curl -sS --fail-with-body -H 'Content-Type: application/json' --data-binary "$BODY" \
  "$URL?key=$KEY&timestamp=$TS&seq=$SEQ&nonce=$NONCE&signature=$SIG"
`
