package logclip

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestClipsEveryStringValue(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(New(slog.NewTextHandler(&buf, nil), 100))
	huge := strings.Repeat("x", 1<<20)
	log.With("realm", huge).Info(huge, "uri", huge, "error", errors.New(huge), slog.Group("g", "v", huge))
	if buf.Len() > 2000 {
		t.Fatalf("log line of %d bytes from 1 MiB values", buf.Len())
	}
	if n := strings.Count(buf.String(), "...(1048576 bytes)"); n != 5 {
		t.Fatalf("%d values marked as cut, want 5: %s", n, buf.String())
	}
	buf.Reset()
	log.Info("short", "k", "v", "n", 3)
	if !strings.Contains(buf.String(), `msg=short k=v n=3`) {
		t.Fatalf("short line changed: %s", buf.String())
	}
}
