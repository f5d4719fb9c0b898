package server_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/server"
)

// TestServeOnceAndShutdownFirst checks that Serve after Shutdown returns at
// once, closing its listener, that a second Serve is refused, and that
// Shutdown can be called again.
func TestServeOnceAndShutdownFirst(t *testing.T) {
	t.Parallel()
	srv, err := server.New(server.Config{}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background(), ln); err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("the listener is still open")
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background(), ln2); err == nil {
		t.Error("a second Serve was not refused")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestZeroConfigServer checks what New makes of the zero Config.
func TestZeroConfigServer(t *testing.T) {
	t.Parallel()
	srv, err := server.New(server.Config{}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c := srv.Config()
	if c.Listen != "127.0.0.1:8080" || c.WebSocket.DisableCompression || len(c.Router.Realms) != 1 ||
		c.Router.Realms[0].Name != "realm1" || !c.Router.Realms[0].Anonymous || c.Metrics.Path != "/metrics" {
		t.Errorf("the zero Config became %+v", c)
	}
	if srv.Router() == nil {
		t.Error("no router")
	}
	if tc, err := srv.TLSConfig(); tc != nil || err != nil {
		t.Errorf("TLSConfig without a certificate: %v, %v", tc, err)
	}
	if err := srv.ReloadCertificate(); err == nil {
		t.Error("ReloadCertificate without a certificate: no error")
	}
}

// TestReadmeShowsExample keeps the README's "Embedding in Go" program the
// Example of this package.
func TestReadmeShowsExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)func Example\(\) \{\n(.*?)\t// Output: (.*?)\n\}`).FindSubmatch(example)
	if body == nil {
		t.Fatal("no Example in example_test.go")
	}
	want := strings.Replace(string(body[1]), "fmt.Println(res.Args[0])\n", "fmt.Println(res.Args[0]) // "+string(body[2])+"\n", 1)
	if !strings.Contains(string(readme), "func main() {\n"+want+"}\n") {
		t.Error("README.md's Embedding in Go program is not server.Example's body")
	}
}
