package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
)

// checker collects unknown keys and invalid config values, each with its
// key, so that one start reports them all.
type checker struct {
	errs        []string
	unknownKeys []string
	// skip are keys whose value could not be decoded: reported once,
	// and not again for the zero value left in their place.
	skip map[string]bool
}

// add records a problem, once.
func (ck *checker) add(msg string) {
	if !slices.Contains(ck.errs, msg) {
		ck.errs = append(ck.errs, msg)
	}
}

// unknown records keys that the default config does not have.
func (ck *checker) unknown(keys ...string) {
	for _, k := range keys {
		if !slices.Contains(ck.unknownKeys, k) {
			ck.unknownKeys = append(ck.unknownKeys, k)
		}
	}
}

// undecodable records that key's value does not fit its type; msg says why.
func (ck *checker) undecodable(key, msg string) {
	if ck.skip == nil {
		ck.skip = make(map[string]bool)
	}
	ck.skip[key] = true
	ck.add(msg)
}

// bad records that key has an invalid value, and what is wanted instead.
func (ck *checker) bad(key string, value any, want string) {
	v := fmt.Sprint(value)
	switch value := value.(type) {
	case string:
		v = strconv.Quote(value)
	case []string:
		v = fmt.Sprintf("%q", value)
	}
	ck.badFormatted(key, v, want)
}

// badFormatted is bad for a value the caller has already formatted (quoted
// if it is a string).
func (ck *checker) badFormatted(key string, value any, want string) {
	if !ck.skip[key] {
		ck.add(fmt.Sprintf("%s = %v: %s", key, value, want))
	}
}

func (ck *checker) err() error {
	errs := ck.errs
	if len(ck.unknownKeys) > 0 {
		sort.Strings(ck.unknownKeys)
		errs = append([]string{fmt.Sprintf("unknown key %s (the keys are those of the default config.toml)",
			strings.Join(ck.unknownKeys, ", "))}, errs...)
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New("invalid config:\n  " + strings.Join(errs, "\n  "))
}

// oneOf checks that value is one of allowed.
func (ck *checker) oneOf(key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		quoted := make([]string, len(allowed))
		for i, a := range allowed {
			quoted[i] = strconv.Quote(a)
		}
		ck.bad(key, value, "want one of "+strings.Join(quoted, ", "))
	}
}

// directory checks that dir names an existing directory.
func (ck *checker) directory(key, dir string) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ck.bad(key, dir, "no such directory")
	case err != nil:
		ck.bad(key, dir, "cannot read it: "+err.Error())
	case !fi.IsDir():
		ck.bad(key, dir, "not a directory")
	}
}

// duration parses a positive duration such as "30s".
func (ck *checker) duration(key, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		ck.bad(key, s, `want a positive duration such as "500ms", "30s" or "5m"`)
	}
	return d
}

// size parses a positive byte size (see parseSize).
func (ck *checker) size(key, s string) int64 {
	n, err := parseSize(s)
	if err != nil || n <= 0 {
		ck.bad(key, s, `want a positive size such as 65536, "64KiB" or "16MiB"`)
	}
	return n
}

// limitSize parses a byte size that may be 0 (no limit).
func (ck *checker) limitSize(key, s string) int64 {
	if s == "0" {
		return 0
	}
	return ck.size(key, s)
}

// count checks a count that may be 0 (no limit).
func (ck *checker) count(key string, v int) int {
	if v < 0 {
		ck.bad(key, v, "want 0 (no limit) or more")
	}
	return v
}

// level parses a log level: debug, info, warn or error.
func (ck *checker) level(key, s string) slog.Level {
	var l slog.Level
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		_ = l.UnmarshalText([]byte(s)) // cannot fail on these four
	default:
		ck.bad(key, s, `want one of "debug", "info", "warn", "error"`)
	}
	return l
}

// disclosure parses disclose_caller and disclose_publisher.
func (ck *checker) disclosure(key, s string) router.Disclosure {
	switch s {
	case "", "request":
		return router.DiscloseOnRequest
	case "always":
		return router.DiscloseAlways
	case "never":
		return router.DiscloseNever
	}
	ck.bad(key, s, `want one of "request", "always", "never"`)
	return ""
}

// sizeUnits are the suffixes parseSize accepts; longer ones first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// parseSize parses a byte size: an integer, or an integer followed by one of
// KiB, MiB, GiB, KB, MB, GB or B, optionally after a space.
func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want an integer with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	if n > (1<<62)/mult || n < -(1<<62)/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}

// Check does with the config file at path what the junction binary's serve
// does, short of listening and joining a cluster: Load it, build the server
// from it, and load its TLS certificate and client CA. It returns what
// would stop serve.
func Check(path string) error {
	cfg, err := Load(path)
	if err != nil {
		return err
	}
	cfg.ShutdownGrace = time.Second // nothing to wait for: it never served
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck // no sessions
	_, err = srv.TLSConfig()
	return err
}
