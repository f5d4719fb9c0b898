package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/server"
)

func TestJSONLogs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	server.NewLogger(server.Config{LogFormat: "json"}, &out).Info("hello", "realm", "realm1",
		"grace", 1500*time.Millisecond, slog.Group("cluster", "took", 250*time.Millisecond))
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || line["msg"] != "hello" || line["realm"] != "realm1" {
		t.Fatalf("not a JSON log line: %s", out.String())
	}
	// Durations as a person reads them, not integers of nanoseconds.
	if line["grace"] != "1.5s" || !reflect.DeepEqual(line["cluster"], map[string]any{"took": "250ms"}) {
		t.Errorf("durations: grace %v, cluster %v; want \"1.5s\" and took \"250ms\"", line["grace"], line["cluster"])
	}
}

// TestZeroConfigIsDefaultConfigFile checks that the zero Config, with the
// defaults New gives it, is what package config loads from the embedded
// default config.toml with no file: the binary with no config file and an
// embedding program with server.Config{} run the same server, listen
// address included.
func TestZeroConfigIsDefaultConfigFile(t *testing.T) {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "JUNCTION_") {
			t.Skipf("%s changes what config.Load gives", kv)
		}
	}
	loaded, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if def := server.DefaultConfig(); !reflect.DeepEqual(def, loaded) {
		t.Errorf("server.DefaultConfig():\n%+v\nconfig.Load(\"\"):\n%+v", def, loaded)
	}
}
