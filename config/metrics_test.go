package config

import (
	"strings"
	"testing"
)

func TestMetricsConfigRefused(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"[metrics]\npath = \"metrics\"",
		"[metrics]\npath = \"/ws\"",
		"[metrics]\npath = \"/healthz\"",
		"[metrics]\nlisten = \"9100\"",
	} {
		if _, err := Load(writeConfig(t, body)); err == nil || !strings.Contains(err.Error(), "metrics.") {
			t.Errorf("%q: %v, want an error naming the metrics key", body, err)
		}
	}
}
