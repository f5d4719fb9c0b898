package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/viper"

	"github.com/junction-wamp/junction/server"
)

// Load reads the embedded default config (Default), then the TOML file at
// path over it (none when path is ""), then the JUNCTION_<SECTION>_<KEY>
// environment variables over both, and checks the result. A TOML syntax
// error is reported with its line and column; otherwise every unknown key
// (in the file or the environment) and every invalid value is reported in
// one error, each with its key. A relative path in the file (server.tls_*,
// rawsocket.unix, web.dir, a principal's ticket_file or secret_file) is
// relative to the file's directory; one from the environment is relative
// to the working directory. What Load returns is complete: server.New adds
// no default to it.
func Load(path string) (server.Config, error) { return LoadListen(path, "") }

// LoadListen is Load with server.listen set to listen, when listen is not
// "", after the file and the environment and before the checks: the junction
// binary's --listen.
func LoadListen(path, listen string) (server.Config, error) {
	c, err := load(path, listen)
	if err != nil {
		return server.Config{}, err
	}
	return *c, nil
}

func load(path, listen string) (*server.Config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(bytes.NewReader(defaultConfig)); err != nil {
		return nil, fmt.Errorf("embedded default config: %w", err)
	}
	known := v.AllKeys()
	var ck checker
	if path != "" {
		if err := mergeFile(v, path, &ck); err != nil {
			return nil, err
		}
	}
	checkEnv(&ck, known, os.Environ())
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv() // consulted for every key known from the defaults or the file
	var fc fileConfig
	decode(&ck, v.AllSettings(), &fc)
	if listen != "" {
		fc.Server.Listen = listen
	}
	return fc.resolve(&ck)
}

// mergeFile merges the TOML file at path over v. It returns an error only
// when the file cannot be read or is not TOML; its unknown keys and values
// of the wrong type go to ck. Its keys are checked on the file itself,
// because viper drops empty tables such as a misspelt "[serverr]" before
// Unmarshal could see them.
func mergeFile(v *viper.Viper, path string, ck *checker) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	raw := make(map[string]any)
	if err := toml.Unmarshal(b, &raw); err != nil {
		return syntaxError(path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	resolvePaths(raw, dir)
	decode(ck, raw, new(fileConfig))
	return v.MergeConfigMap(raw) // a list, such as [[realms]], replaces the default one
}

// syntaxError names the line and column of a TOML syntax error, and shows
// the line.
func syntaxError(path string, err error) error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	line, col := de.Position()
	return fmt.Errorf("config %s:%d:%d: %w\n%s", path, line, col, err, de.String())
}

// pathKeys are the keys, section then key, whose values are file or
// directory paths; principalPathKeys those of a [[realms.principals]]
// (a [[bridge.keys]], [[bridge.subscriber]] or [[bridge.callee]] has
// secret_file and ticket_file).
var (
	pathKeys = [][2]string{
		{"server", "tls_cert"}, {"server", "tls_key"}, {"server", "tls_client_ca"},
		{"rawsocket", "unix"}, {"web", "dir"},
	}
	principalPathKeys = []string{"ticket_file", "secret_file"}
)

// resolvePaths makes the relative paths of a file's settings raw relative
// to dir, the file's directory.
func resolvePaths(raw map[string]any, dir string) {
	for _, k := range pathKeys {
		if section, ok := lookup(raw, k[0]).(map[string]any); ok {
			joinDir(section, k[1], dir)
		}
	}
	if bridge, ok := lookup(raw, "bridge").(map[string]any); ok {
		for _, list := range []string{"keys", "subscriber", "callee"} {
			entries, _ := lookup(bridge, list).([]any)
			for _, e := range entries {
				if entry, ok := e.(map[string]any); ok {
					joinDir(entry, "secret_file", dir)
					joinDir(entry, "ticket_file", dir)
				}
			}
		}
	}
	realms, _ := lookup(raw, "realms").([]any)
	for _, r := range realms {
		realm, _ := r.(map[string]any)
		principals, _ := lookup(realm, "principals").([]any)
		for _, p := range principals {
			if principal, ok := p.(map[string]any); ok {
				for _, k := range principalPathKeys {
					joinDir(principal, k, dir)
				}
			}
		}
	}
}

// lookup returns m's value of key, whose case viper ignores.
func lookup(m map[string]any, key string) any {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// joinDir puts dir in front of m's path at key when it is relative.
func joinDir(m map[string]any, key, dir string) {
	for k, v := range m {
		if p, ok := v.(string); ok && strings.EqualFold(k, key) && p != "" && !filepath.IsAbs(p) {
			m[k] = filepath.Join(dir, p)
		}
	}
}

// decode decodes a settings map into fc, and reports to ck the keys fc
// does not have and the values that do not fit their key's type. Input is
// weakly typed because environment values arrive as strings; lists from
// the environment are comma-separated.
func decode(ck *checker, in map[string]any, fc *fileConfig) {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           fc,
		ErrorUnused:      true, // reported beside the other errors; Metadata.Unused is not
		WeaklyTypedInput: true,
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
	})
	if err != nil {
		panic(err) // only for a Result that is not a pointer
	}
	for _, e := range leafErrors(d.Decode(in)) {
		msg := e.Error()
		if m := unusedRE.FindStringSubmatch(msg); m != nil {
			for _, k := range strings.Split(m[2], ", ") {
				if m[1] != "" {
					k = m[1] + "." + k
				}
				ck.unknown(k)
			}
			continue
		}
		key := ""
		if m := decodedKeyRE.FindStringSubmatch(msg); m != nil {
			key = m[1]
		}
		ck.undecodable(key, msg)
	}
}

// leafErrors flattens the errors.Join tree mapstructure returns.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	if w := errors.Unwrap(err); w != nil && strings.HasPrefix(err.Error(), "decoding failed") {
		return leafErrors(w)
	}
	return []error{err}
}

var (
	// unusedRE matches mapstructure's error for keys of a table that the
	// struct has no field for ('' is the top level).
	unusedRE = regexp.MustCompile(`^'([^']*)' has invalid keys: (.+)$`)
	// decodedKeyRE finds the key in mapstructure's other messages, which
	// quote it: "cannot parse 'server.max_connections' as int: ...".
	decodedKeyRE = regexp.MustCompile(`'([A-Za-z0-9_.\[\]]+)'`)
)

// checkEnv reports JUNCTION_* variables that name no config key, so that a
// misspelt override does not go unnoticed. known are the keys of the
// default config; [[realms]] cannot be set from the environment.
func checkEnv(ck *checker, known, environ []string) {
	names := make(map[string]bool, len(known))
	for _, k := range known {
		if k != "realms" && !strings.HasPrefix(k, "realms.") {
			names[envName(k)] = true
		}
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix+"_") && !names[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		ck.add(fmt.Sprintf("environment variable %s names no config key "+
			"(want %s_<SECTION>_<KEY> for a key of config.toml outside [[realms]], e.g. %s)",
			name, envPrefix, envName("server.listen")))
	}
}

// envName is the environment variable that overrides key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
