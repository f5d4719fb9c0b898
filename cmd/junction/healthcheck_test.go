package main

import (
	"net"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/internal/routertest"
)

// TestCLIHealthcheck: healthcheck exits 0 against a serving router, 1 when
// nothing answers or the answer is not 200, 2 for a bad URL.
func TestCLIHealthcheck(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	addr := routertest.Serve(t, cfg)
	if code, _, errs := runCLI(t, "healthcheck", "--url", "http://"+addr+"/healthz"); code != 0 {
		t.Errorf("serving router: exit %d, stderr %s", code, errs)
	}
	if code, _, errs := runCLI(t, "healthcheck", "--url", "http://"+addr+"/nothing-here"); code != 1 || !strings.Contains(errs, "404") {
		t.Errorf("404: exit %d, stderr %s", code, errs)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if code, _, errs := runCLI(t, "healthcheck", "--url", "http://"+closed+"/healthz"); code != 1 || !strings.Contains(errs, "healthcheck:") {
		t.Errorf("nothing listening: exit %d, stderr %s", code, errs)
	}
	if code, _, _ := runCLI(t, "healthcheck", "--url", "::bad"); code != 2 {
		t.Errorf("bad URL: exit %d, want 2", code)
	}
}
