package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// syncBuffer is a log sink safe for the router's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRun runs the program with args in a goroutine and returns the bound
// address and the channel of its exit status. The run ends when ctx does.
func startRun(ctx context.Context, t *testing.T, args []string, logs *syncBuffer) (string, <-chan int) {
	t.Helper()
	addrc := make(chan string, 1)
	exit := make(chan int, 1)
	opts := runOptions{listening: func(a string) { addrc <- a }}
	go func() { exit <- runWith(ctx, args, logs, opts) }()
	select {
	case addr := <-addrc:
		return addr, exit
	case code := <-exit:
		t.Fatalf("run exited %d before listening: %s", code, logs.String())
	}
	return "", nil
}

// TestServeAndShutdown runs the binary on the default config: /healthz
// answers, a WAMP client joins realm1, then the signal context ends and the
// client gets GOODBYE wamp.close.system_shutdown and close code 1001.
func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	addr, exit := startRun(ctx, t, []string{"--listen", "127.0.0.1:0"}, &logs)

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz %d", resp.StatusCode)
	}

	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	conn, _, err := d.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Subprotocol() != "wamp.2.json" {
		t.Fatalf("subprotocol %q", conn.Subprotocol())
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`[1,"realm1",{"roles":{"caller":{}}}]`)); err != nil {
		t.Fatal(err)
	}
	if typ, msg := readMessage(t, conn); typ != 2 {
		t.Fatalf("want WELCOME (2), got %s", msg)
	}

	stop()
	typ, msg := readMessage(t, conn)
	if typ != 6 || !strings.Contains(string(msg), `"wamp.close.system_shutdown"`) {
		t.Fatalf("want GOODBYE (6) wamp.close.system_shutdown, got %s", msg)
	}
	if _, _, err = conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("want close 1001, got %v", err)
	}
	if code := <-exit; code != 0 {
		t.Fatalf("exit status %d: %s", code, logs.String())
	}
	for _, want := range []string{`msg="junction listening" addr=` + addr + " path=/ws realms=[realm1]", "junction stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// readMessage reads one WAMP message and returns its type.
func readMessage(t *testing.T, conn *websocket.Conn) (int, []byte) {
	t.Helper()
	_, msg, err := conn.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var fields []json.RawMessage
	var typ int
	if err := json.Unmarshal(msg, &fields); err != nil || len(fields) == 0 || json.Unmarshal(fields[0], &typ) != nil {
		t.Fatalf("not a WAMP message: %s", msg)
	}
	return typ, msg
}

func TestListenFailureExits1(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out syncBuffer
	if code := run(context.Background(), []string{"--listen", ln.Addr().String()}, &out); code != 1 {
		t.Fatalf("exit status %d, want 1: %s", code, out.String())
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"version", []string{"--version"}, 0, "junction dev"},
		{"help", []string{"--help"}, 0, "--config file"},
		{"unknown flag", []string{"--verbose"}, 2, "unknown flag: --verbose"},
		{"argument", []string{"bogus"}, 2, `unknown command "bogus"`},
		{"invalid config", []string{"--config", "CONFIG:[bogus]\nx = 1"}, 2, "unknown key bogus"},
		{"invalid listen", []string{"--listen", "8080"}, 2, `server.listen = "8080"`},
		{"missing config", []string{"--config", "/nonexistent/junction.toml"}, 2, "/nonexistent/junction.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string(nil), tt.args...)
			for i, a := range args {
				if body, ok := strings.CutPrefix(a, "CONFIG:"); ok {
					args[i] = writeConfig(t, body)
				}
			}
			var out syncBuffer
			if code := run(context.Background(), args, &out); code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("exit status %d, output:\n%s\nwant %d and %q", code, out.String(), tt.code, tt.want)
			}
		})
	}
}

// writeConfig writes a config file of body and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
