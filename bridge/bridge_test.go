package bridge_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// TestCaller checks a call through the bridge with a ticket, its result
// as JSON, and the identity the callee sees.
func TestCaller(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	r := f.post(t, "/call", bearer(aliceTicket), `{"procedure": "com.example.add", "args": [2, 3]}`)
	want(t, r, http.StatusOK, "")
	if r.raw != `{"args":[5]}`+"\n" {
		t.Errorf("body %q", r.raw)
	}
	r = f.post(t, "/call", bearer(aliceTicket), `{"procedure": "com.example.echo", "kwargs": {"a": {"b": [1, "x", null, true, 1.5]}}}`)
	want(t, r, http.StatusOK, "")
	if r.raw != `{"args":[],"kwargs":{"a":{"b":[1,"x",null,true,1.5]}}}`+"\n" {
		t.Errorf("body %q", r.raw)
	}
}

// TestCallerIdentity checks that the callee sees the principal of the
// request (disclosed on request): ticket, signed and anonymous.
func TestCallerIdentity(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := f.callee.Register(ctx, "com.example.whoami", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{inv.Details.String("caller_authid"), inv.Details.String("caller_authrole")}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"procedure": "com.example.whoami", "options": {"disclose_me": true}}`
	r := f.post(t, "/call", bearer(aliceTicket), body)
	want(t, r, http.StatusOK, "")
	if r.raw != `{"args":["alice","client"]}`+"\n" {
		t.Errorf("ticket: %s", r.raw)
	}
	r = f.post(t, signedPath("/call", keyName, keySecret, time.Now(), 1, body), nil, body)
	want(t, r, http.StatusOK, "")
	if r.raw != `{"args":["svc","client"]}`+"\n" {
		t.Errorf("signed: %s", r.raw)
	}
	r = f.post(t, "/open", nil, body)
	want(t, r, http.StatusOK, "")
	if args, _ := r.body["args"].([]any); len(args) != 2 || !strings.HasPrefix(fmt.Sprint(args[0]), "anonymous-") || args[1] != "public" {
		t.Errorf("anonymous: %s", r.raw)
	}
}

// TestCallerErrors checks the mapping of WAMP errors to HTTP statuses.
func TestCallerErrors(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	auth := bearer(aliceTicket)
	r := f.post(t, "/call", auth, `{"procedure": "com.example.fail", "args": [1]}`)
	want(t, r, http.StatusBadGateway, "com.example.error.bad_input")
	if r.raw != `{"error":"com.example.error.bad_input","args":["no"],"kwargs":{"field":"x"}}`+"\n" {
		t.Errorf("body %q", r.raw)
	}
	r = f.post(t, "/call", auth, `{"procedure": "com.example.nobody"}`)
	want(t, r, http.StatusNotFound, string(wamp.ErrNoSuchProcedure))
	r = f.post(t, "/call", auth, `{"procedure": "com.example.secret"}`)
	want(t, r, http.StatusForbidden, string(wamp.ErrNotAuthorized))
	r = f.post(t, "/call", auth, `{"procedure": "not a uri!"}`)
	want(t, r, http.StatusBadRequest, string(wamp.ErrInvalidURI))
	start := time.Now()
	r = f.post(t, "/call", auth, `{"procedure": "com.example.slow", "options": {"timeout": 100}}`)
	want(t, r, http.StatusGatewayTimeout, string(wamp.ErrTimeout))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 100ms timeout took %v", d)
	}
	r = f.post(t, "/call", auth, `{"procedure": "com.example.slow", "options": {"timeout": 3600000}}`)
	want(t, r, http.StatusBadRequest, string(wamp.ErrInvalidArgument))
	for _, body := range []string{`{`, `[]`, `{"args": [1]}`, `{"procedure": "com.example.add", "args": {}}`,
		`{"procedure": "com.example.add", "kwargs": []}`, `{"procedure": "com.example.add", "extra": 1}`,
		`{"procedure": "com.example.add", "options": {"retain": true}}`, `{"procedure": "com.example.add"} {}`,
		`{"procedure": "com.example.add", "options": {"timeout": "1s"}}`, `{"procedure": "com.example.add", "args": [1e400]}`,
		`{"procedure": "com.example.add", "args": ["\ud800"]}`} {
		r = f.post(t, "/call", auth, body)
		if r.code != http.StatusBadRequest || r.body["error"] != string(wamp.ErrInvalidArgument) {
			t.Errorf("%s: got %d %s, want 400", body, r.code, r.raw)
		}
	}
}

// TestBinaryRoundTrip checks that binary values follow WAMP's JSON
// convention both ways, through a msgpack callee (a real []byte there).
func TestBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	got := make(chan any, 1)
	mp, err := clientlib.Connect(ctx, strings.Replace(f.base, "http", "ws", 1)+"/ws", realm, clientlib.Options{Serializer: "msgpack",
		AuthID: "backend", Auth: []clientlib.Authenticator{clientlib.TicketAuth("backend-ticket-0123456789")}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mp.Close(context.Background()) }()
	_, err = mp.Register(ctx, "com.example.bytes", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		got <- inv.Args[0]
		b, _ := inv.Args[0].([]byte)
		return &clientlib.Result{Args: []any{append(b, 0xff)}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := []byte{0, 1, 2, 'h', 'i'}
	body := fmt.Sprintf(`{"procedure": "com.example.bytes", "args": ["\u0000%s"]}`, base64.StdEncoding.EncodeToString(in))
	r := f.post(t, "/open", nil, body) // public may not call it
	want(t, r, http.StatusForbidden, string(wamp.ErrNotAuthorized))
	r = f.post(t, "/call", bearer("backend-ticket-0123456789"), body)
	want(t, r, http.StatusOK, "")
	if b, ok := (<-got).([]byte); !ok || string(b) != string(in) {
		t.Errorf("the callee got %#v, want the bytes %v", b, in)
	}
	wantArg := "\x00" + base64.StdEncoding.EncodeToString(append(in, 0xff))
	if args, _ := r.body["args"].([]any); len(args) != 1 || args[0] != wantArg {
		t.Errorf("result %s, want the binary convention of %q", r.raw, wantArg)
	}
}
