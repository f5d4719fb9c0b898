package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: modulePath, Version: "v0.0.0-20261202065100-4ecf49e1b2c3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "4ecf49e1b2c3"},
			{Key: "vcs.time", Value: "2026-12-02T06:51:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name     string
		bi       *debug.BuildInfo
		override string
		want     Info
	}{
		{"none recorded", nil, "", Info{Version: "dev", GoVersion: runtime.Version()}},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "dev",
			Info{Version: "dev", GoVersion: "go1.26.8"}},
		{"vcs", vcs, "dev", Info{Version: "v0.0.0-20261202065100-4ecf49e1b2c3", Revision: "4ecf49e1b2c3",
			Time: "2026-12-02T06:51:00Z", Modified: true, GoVersion: "go1.26.8"}},
		{"embedded", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/app", Version: "v2.0.0"},
			Deps:     []*debug.Module{{Path: modulePath, Version: "v1.3.0"}},
			Settings: vcs.Settings}, "", Info{Version: "v1.3.0", GoVersion: "go1.26.8"}},
		{"ldflags override", vcs, "v1.2.0", Info{Version: "v1.2.0", Revision: "4ecf49e1b2c3",
			Time: "2026-12-02T06:51:00Z", Modified: true, GoVersion: "go1.26.8"}},
	}
	for _, tt := range tests {
		if got := FromBuildInfo(tt.bi, tt.override); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	if got, want := (Info{Version: "dev", GoVersion: "go1.26.8"}).String(), "dev (go1.26.8 "+platform+")"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	full := Info{Version: "v1.2.0", Revision: "abc", Time: "2026-12-02T06:51:00Z", Modified: true, GoVersion: "go1.26.8"}
	if got, want := full.String(), "v1.2.0 (revision abc, 2026-12-02T06:51:00Z, modified; go1.26.8 "+platform+")"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRead reads this test binary's own build info, which Go records too.
func TestRead(t *testing.T) {
	t.Parallel()
	info := Read("")
	if info.Version == "" || !strings.HasPrefix(info.GoVersion, "go") {
		t.Errorf("Read: %+v", info)
	}
}
