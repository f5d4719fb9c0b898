package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/server"
)

func TestJSONLogs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	server.NewLogger(server.Config{LogFormat: "json"}, &out).Info("hello", "realm", "realm1")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || line["msg"] != "hello" || line["realm"] != "realm1" {
		t.Fatalf("not a JSON log line: %s", out.String())
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
