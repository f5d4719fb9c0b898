package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/server"
)

func TestWebConfig(t *testing.T) { // not parallel: t.Setenv
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Web != (server.WebConfig{Prefix: "/"}) {
		t.Errorf("default [web] %+v, want no dir and prefix \"/\"", c.Web)
	}

	dir := t.TempDir()
	c, err = Load(writeConfig(t, "[web]\ndir = \""+dir+"\"\nprefix = \"/app/\""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Web != (server.WebConfig{Dir: dir, Prefix: "/app/"}) {
		t.Errorf("[web] %+v", c.Web)
	}

	t.Setenv("JUNCTION_WEB_DIR", dir)
	if c, err = Load(""); err != nil || c.Web.Dir != dir {
		t.Errorf("JUNCTION_WEB_DIR: %+v %v", c, err)
	}
}

func TestWebConfigRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent")
	tests := []struct {
		name, body string
		want       []string
	}{
		{"missing dir", "[web]\ndir = \"" + missing + "\"", []string{"web.dir", missing, "no such directory"}},
		{"dir is a file", "[web]\ndir = \"" + file + "\"", []string{"web.dir", "not a directory"}},
		{"unknown key", "[web]\nroot = \"" + dir + "\"", []string{"unknown key web.root"}},
		{"relative prefix", "[web]\nprefix = \"app/\"", []string{"web.prefix", `"app/"`}},
		{"prefix without slash", "[web]\nprefix = \"/app\"", []string{"web.prefix", `"/app"`}},
		{"wildcard prefix", "[web]\nprefix = \"/{x}/\"", []string{"web.prefix", "plain URL path"}},
		{"dot-dot prefix", "[web]\nprefix = \"/a/../\"", []string{"web.prefix", "plain URL path"}},
		{"double slash prefix", "[web]\nprefix = \"/a//\"", []string{"web.prefix", "plain URL path"}},
		{"prefix is the websocket path", "[websocket]\npath = \"/ws/\"\n[web]\nprefix = \"/ws/\"", []string{"web.prefix", "websocket.path"}},
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

// TestChatExampleConfig loads the chat demo's config the way its README
// runs it, from the root of the repository, and from another directory:
// its web.dir is relative to the file (not parallel: t.Chdir).
func TestChatExampleConfig(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for cwd, file := range map[string]string{root: "examples/chat/config.toml", t.TempDir(): filepath.Join(root, "examples/chat/config.toml")} {
		t.Chdir(cwd)
		c, err := LoadListen(file, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(root, "examples/chat/web"); c.Web != (server.WebConfig{Dir: want, Prefix: "/"}) {
			t.Errorf("from %s: [web] %+v, want dir %s", cwd, c.Web, want)
		}
		if len(c.WebSocket.AllowedOrigins) == 0 {
			t.Error("the chat demo sets no Origin allow-list")
		}
		if _, err := os.Stat(filepath.Join(c.Web.Dir, "index.html")); err != nil {
			t.Error(err)
		}
	}
}
