package config

import (
	"fmt"
	"strings"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/server"
)

// bridgeSection is the [bridge] table: its limits, and the
// [[bridge.caller]], [[bridge.publisher]] and [[bridge.keys]] tables.
type bridgeSection struct {
	MaxBody            string                   `mapstructure:"max_body"`
	MaxJSONDepth       int                      `mapstructure:"max_json_depth"`
	ReadTimeout        string                   `mapstructure:"read_timeout"`
	DefaultCallTimeout string                   `mapstructure:"default_call_timeout"`
	MaxCallTimeout     string                   `mapstructure:"max_call_timeout"`
	MaxConcurrent      int                      `mapstructure:"max_concurrent"`
	TimestampWindow    string                   `mapstructure:"timestamp_window"`
	MaxNonces          int                      `mapstructure:"max_nonces"`
	Callers            []endpointSection        `mapstructure:"caller"`
	Publishers         []endpointSection        `mapstructure:"publisher"`
	Keys               []keySection             `mapstructure:"keys"`
	webhooksSection    `mapstructure:",squash"` // webhook_config.go
}

type endpointSection struct {
	Path  string   `mapstructure:"path"`
	Realm string   `mapstructure:"realm"`
	Auth  []string `mapstructure:"auth"`
}

// keySection is a [[bridge.keys]] entry; the secret can stay out of the
// file as a principal's can (secret_env, secret_file).
type keySection struct {
	Key        string `mapstructure:"key"`
	Secret     string `mapstructure:"secret"`
	SecretEnv  string `mapstructure:"secret_env"`
	SecretFile string `mapstructure:"secret_file"`
	Realm      string `mapstructure:"realm"`
	AuthID     string `mapstructure:"authid"`
	Role       string `mapstructure:"role"`
}

// resolve converts the [bridge] table and checks it against the rest of
// c (its realms, and the paths the server serves).
func (bs *bridgeSection) resolve(ck *checker, c *server.Config) bridge.Config {
	positive := func(key string, v int) int {
		if v <= 0 {
			ck.bad(key, v, "want a positive number")
		}
		return v
	}
	bc := bridge.Config{
		MaxBody:            ck.size("bridge.max_body", bs.MaxBody),
		MaxJSONDepth:       positive("bridge.max_json_depth", bs.MaxJSONDepth),
		ReadTimeout:        ck.duration("bridge.read_timeout", bs.ReadTimeout),
		DefaultCallTimeout: ck.duration("bridge.default_call_timeout", bs.DefaultCallTimeout),
		MaxCallTimeout:     ck.duration("bridge.max_call_timeout", bs.MaxCallTimeout),
		MaxConcurrent:      positive("bridge.max_concurrent", bs.MaxConcurrent),
		TimestampWindow:    ck.duration("bridge.timestamp_window", bs.TimestampWindow),
		MaxNonces:          positive("bridge.max_nonces", bs.MaxNonces),
		Callers:            endpoints(bs.Callers),
		Publishers:         endpoints(bs.Publishers),
	}
	for i, k := range bs.Keys {
		key := fmt.Sprintf("bridge.keys[%d]", i)
		bc.Keys = append(bc.Keys, bridge.Key{Key: k.Key, Realm: k.Realm, AuthID: k.AuthID, Role: k.Role,
			Secret: secretFrom(key+".secret", k.Secret, k.SecretEnv, k.SecretFile, ck.badFormatted)})
	}
	taken := map[string]string{c.WebSocket.Path: "websocket.path", "/healthz": "/healthz"}
	if !c.Metrics.Off && c.Metrics.Listen == "" {
		taken[c.Metrics.Path] = "metrics.path"
	}
	for _, p := range bc.Paths() {
		if what, ok := taken[p]; ok {
			ck.bad("bridge", p, "the path of an endpoint is taken by "+what+"; choose another path")
		}
	}
	check := bc
	check.Realms, check.AutoCreateRealms = c.Router.Realms, c.Router.AutoCreateRealms
	if err := check.Validate(); err != nil { // each line names its key
		ck.errs = append(ck.errs, strings.Split(err.Error(), "\n")...)
	}
	return bc
}

func endpoints(sections []endpointSection) []bridge.Endpoint {
	var out []bridge.Endpoint
	for _, s := range sections {
		e := bridge.Endpoint{Path: s.Path, Realm: s.Realm}
		for _, a := range s.Auth {
			e.Auth = append(e.Auth, bridge.AuthMethod(a))
		}
		out = append(out, e)
	}
	return out
}
