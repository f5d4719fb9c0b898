package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/server"
)

// startServer serves cfg on 127.0.0.1:0 until the test ends and returns the
// bound address.
func startServer(t *testing.T, cfg server.Config) string {
	t.Helper()
	return routertest.Serve(t, cfg)
}

// load loads a config file of body with package config.
func load(t *testing.T, body string) server.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// write writes data to the file at path.
func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestWebServesFiles serves a directory under /app/ beside the WebSocket
// endpoint on one live port: files and index pages are served, listings,
// dotfiles and other methods are not, and /ws and /healthz still reach the
// router.
func TestWebServesFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"index.html":          "<h1>app</h1>",
		"js/app.js":           "console.log('app')",
		"sub/index.html":      "<h1>sub</h1>",
		"nolisting/data.json": `{"a": 1}`,
		".env":                "SECRET=1",
		".git/config":         "[core]",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := load(t, "[web]\ndir = \""+dir+"\"\nprefix = \"/app/\"")
	addr := startServer(t, cfg)
	base := "http://" + addr

	for _, tt := range []struct {
		path, body, ctype string
	}{
		{"/app/", "<h1>app</h1>", "text/html"},
		{"/app/js/app.js", "console.log('app')", "javascript"},
		{"/app/sub/", "<h1>sub</h1>", "text/html"},
		{"/app/nolisting/data.json", `{"a": 1}`, "application/json"},
	} {
		resp, body := get(t, http.MethodGet, base+tt.path)
		if resp.StatusCode != http.StatusOK || body != tt.body {
			t.Errorf("GET %s: %d %q, want 200 %q", tt.path, resp.StatusCode, body, tt.body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tt.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tt.path, ct, tt.ctype)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", tt.path, cc)
		}
		if lm := resp.Header.Get("Last-Modified"); lm != "" {
			req, _ := http.NewRequest(http.MethodGet, base+tt.path, nil)
			req.Header.Set("If-Modified-Since", lm)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s If-Modified-Since: %d, want 304", tt.path, resp.StatusCode)
			}
		} else {
			t.Errorf("GET %s: no Last-Modified", tt.path)
		}
	}

	for _, p := range []string{"/app/nolisting/", "/app/nolisting", "/app/.env", "/app/.git/config", "/app/absent.html", "/index.html", "/"} {
		if resp, body := get(t, http.MethodGet, base+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d %q, want 404", p, resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, http.MethodPost, base+"/app/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /app/: %d, want 405", resp.StatusCode)
	}
	if resp, body := get(t, http.MethodHead, base+"/app/js/app.js"); resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}
	// /app (no slash) is redirected to the prefix.
	resp, body := get(t, http.MethodGet, base+"/app")
	if resp.StatusCode != http.StatusOK || body != "<h1>app</h1>" {
		t.Errorf("GET /app: %d %q", resp.StatusCode, body)
	}

	// The router still answers on its paths.
	if resp, body := get(t, http.MethodGet, base+"/healthz"); resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, http.MethodGet, base+"/ws"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /ws without upgrade: %d, want the router's 400", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := clientlib.Connect(ctx, "ws://"+addr+"/ws", "realm1", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "wamp.session.count", nil, nil, nil); err != nil {
		t.Error(err)
	}
	_ = c.Close(ctx)
}

// TestWebAtRoot serves files at "/" (the default prefix): the WebSocket
// endpoint and /healthz are not shadowed by it.
func TestWebAtRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("root"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "healthz"), []byte("shadow"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, "[web]\ndir = \""+dir+"\"")
	base := "http://" + startServer(t, cfg)
	if resp, body := get(t, http.MethodGet, base+"/"); resp.StatusCode != http.StatusOK || body != "root" {
		t.Errorf("GET /: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, http.MethodGet, base+"/healthz"); resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, http.MethodGet, base+"/ws"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /ws without upgrade: %d, want the router's 400", resp.StatusCode)
	}
}
