// Package buildinfo says which build of Junction is running: the module
// version and the VCS revision the Go toolchain recorded in the binary
// (runtime/debug.ReadBuildInfo), for junction version, the start log line
// and the junction_build_info metric.
package buildinfo

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what is known of a build. A field is "" when the binary does not
// record it: go run, and go build with -buildvcs=false or outside a
// repository, record no revision.
type Info struct {
	// Version is the module version ("v1.2.0", a pseudo-version such as
	// "v0.0.0-20261202065100-4ecf49e1b2c3", or "dev" when none is known).
	Version string
	// Revision is the VCS commit the binary was built from.
	Revision string
	// Time is the commit's time, RFC 3339.
	Time string
	// Modified is true when the work tree had uncommitted changes.
	Modified bool
	// GoVersion is the toolchain that built the binary, e.g. "go1.26.8".
	GoVersion string
}

// Read returns the running binary's build info. override, when not "" or
// "dev", is the version instead of the module's: a release built with
// -ldflags "-X main.version=v1.2.0" sets it.
func Read(override string) Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(bi, override)
}

// modulePath is Junction's module.
const modulePath = "github.com/junction-wamp/junction"

// FromBuildInfo is Read on the build info bi (nil: none recorded). In a
// program that embeds Junction (its main module is another), Version is the
// Junction module's version it requires, and there is no revision.
func FromBuildInfo(bi *debug.BuildInfo, override string) Info {
	info := Info{GoVersion: runtime.Version()}
	if bi != nil {
		info.GoVersion = cmp.Or(bi.GoVersion, info.GoVersion)
	}
	switch {
	case bi == nil:
	case bi.Main.Path != modulePath && bi.Main.Path != "":
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				info.Version = d.Version
			}
		}
	default:
		if v := bi.Main.Version; v != "(devel)" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if override != "" && override != "dev" {
		info.Version = override
	}
	info.Version = cmp.Or(info.Version, "dev")
	return info
}

// String is one line for a person: the version, then what else is known,
// e.g. "v1.2.0 (revision 4ecf49e1b2c3..., 2026-12-02T06:51:00Z, modified; go1.26.8 linux/amd64)".
func (i Info) String() string {
	var parts []string
	if i.Revision != "" {
		parts = append(parts, "revision "+i.Revision)
	}
	if i.Time != "" {
		parts = append(parts, i.Time)
	}
	if i.Modified {
		parts = append(parts, "modified")
	}
	platform := i.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
	if len(parts) == 0 {
		return fmt.Sprintf("%s (%s)", i.Version, platform)
	}
	return fmt.Sprintf("%s (%s; %s)", i.Version, strings.Join(parts, ", "), platform)
}
