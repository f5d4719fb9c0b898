package main

import (
	"bytes"
	"context"
	"net/http"
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

// TestServeAndShutdown runs the binary's run() on the default config: a WAMP
// client joins realm1, then the signal context ends and the client gets
// GOODBYE wamp.close.system_shutdown and close code 1001.
func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	addrc := make(chan string, 1)
	var logs syncBuffer
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, []string{"--listen", "127.0.0.1:0"}, &logs, func(a string) { addrc <- a }) }()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-exit:
		t.Fatalf("run exited %d: %s", code, logs.String())
	}

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
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`[1,"realm1",{"roles":{"caller":{}}}]`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := conn.ReadMessage()
	if err != nil || !strings.HasPrefix(string(msg), "[2,") {
		t.Fatalf("WELCOME: %s %v", msg, err)
	}

	stop()
	_, msg, err = conn.ReadMessage()
	if err != nil || !strings.Contains(string(msg), "wamp.close.system_shutdown") {
		t.Fatalf("GOODBYE: %s %v", msg, err)
	}
	_, _, err = conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("close: %v", err)
	}
	if code := <-exit; code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{"junction listening", "session joined", "session left"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestInvalidConfigExits2(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	code := run(context.Background(), []string{"--config", writeConfig(t, "[bogus]\nx = 1")}, &out, nil)
	if code != 2 || !strings.Contains(out.String(), "bogus") {
		t.Fatalf("exit %d, output %s", code, out.String())
	}
}
