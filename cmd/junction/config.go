package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/websocket"
)

// defaultConfig is a copy of the repository's config.toml (a test keeps them equal).
//
//go:embed default_config.toml
var defaultConfig []byte

// fileConfig mirrors config.toml. Durations and sizes are strings, parsed by
// resolve so that errors name the key.
type fileConfig struct {
	Server struct {
		Listen        string `mapstructure:"listen"`
		ShutdownGrace string `mapstructure:"shutdown_grace"`
	} `mapstructure:"server"`
	Log struct {
		Format string `mapstructure:"format"`
		Level  string `mapstructure:"level"`
	} `mapstructure:"log"`
	WebSocket struct {
		Path                string   `mapstructure:"path"`
		Serializers         []string `mapstructure:"serializers"`
		Compression         bool     `mapstructure:"compression"`
		CompressionLevel    int      `mapstructure:"compression_level"`
		AllowedOrigins      []string `mapstructure:"allowed_origins"`
		PingInterval        string   `mapstructure:"ping_interval"`
		PongTimeout         string   `mapstructure:"pong_timeout"`
		WriteTimeout        string   `mapstructure:"write_timeout"`
		MaxMessageSize      string   `mapstructure:"max_message_size"`
		QueueMessages       int      `mapstructure:"queue_messages"`
		QueueBytes          string   `mapstructure:"queue_bytes"`
		SlowConsumerTimeout string   `mapstructure:"slow_consumer_timeout"`
	} `mapstructure:"websocket"`
	Router struct {
		AutoCreateRealms      bool   `mapstructure:"auto_create_realms"`
		StrictURI             bool   `mapstructure:"strict_uri"`
		HelloTimeout          string `mapstructure:"hello_timeout"`
		AuthTimeout           string `mapstructure:"auth_timeout"`
		AuthFailuresPerMinute int    `mapstructure:"auth_failures_per_minute"`
	} `mapstructure:"router"`
	Realms []struct {
		Name              string            `mapstructure:"name"`
		Auth              []string          `mapstructure:"auth"`
		AnonymousRole     string            `mapstructure:"anonymous_role"`
		Principals        []principalConfig `mapstructure:"principals"`
		Roles             []roleConfig      `mapstructure:"roles"`
		DiscloseCaller    string            `mapstructure:"disclose_caller"`
		DisclosePublisher string            `mapstructure:"disclose_publisher"`
		EventHistory      []struct {
			Topic string `mapstructure:"topic"`
			Match string `mapstructure:"match"`
			Limit int    `mapstructure:"limit"`
		} `mapstructure:"event_history"`
	} `mapstructure:"realms"`
}

// config is the resolved configuration the binary runs with.
type config struct {
	Listen        string
	ShutdownGrace time.Duration
	LogFormat     string
	LogLevel      slog.Level
	Router        router.Config
	WebSocket     websocket.Config
}

// loadConfig reads the embedded defaults, then the file at path (if any),
// then JUNCTION_* environment variables, then the --listen override.
func loadConfig(path, listen string) (*config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(bytes.NewReader(defaultConfig)); err != nil {
		return nil, fmt.Errorf("embedded default config: %w", err)
	}
	if path != "" {
		v.SetConfigFile(path)
		if err := v.MergeInConfig(); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	v.SetEnvPrefix("JUNCTION")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	var fc fileConfig
	err := v.Unmarshal(&fc, func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = true })
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if listen != "" {
		fc.Server.Listen = listen
	}
	return fc.resolve()
}

// resolve checks every value and converts the file config to the packages' configs.
func (fc *fileConfig) resolve() (*config, error) {
	var errs []string
	bad := func(key string, value any, why string) {
		errs = append(errs, fmt.Sprintf("%s = %v: %s", key, value, why))
	}
	dur := func(key, s string) time.Duration {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			bad(key, strconv.Quote(s), "want a positive duration such as \"30s\"")
		}
		return d
	}
	size := func(key, s string) int64 {
		n, err := parseSize(s)
		if err != nil || n <= 0 {
			bad(key, strconv.Quote(s), "want a positive size such as 65536 or \"16MiB\"")
		}
		return n
	}
	c := &config{Listen: fc.Server.Listen, LogFormat: fc.Log.Format}
	if c.Listen == "" {
		bad("server.listen", `""`, "want an address such as \"127.0.0.1:8080\"")
	}
	c.ShutdownGrace = dur("server.shutdown_grace", fc.Server.ShutdownGrace)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log.format", strconv.Quote(c.LogFormat), `want "text" or "json"`)
	}
	if err := c.LogLevel.UnmarshalText([]byte(fc.Log.Level)); err != nil || !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(fc.Log.Level)) {
		bad("log.level", strconv.Quote(fc.Log.Level), `want "debug", "info", "warn" or "error"`)
	}

	ws := fc.WebSocket
	if !strings.HasPrefix(ws.Path, "/") {
		bad("websocket.path", strconv.Quote(ws.Path), `want a URL path starting with "/"`)
	}
	for _, s := range ws.Serializers {
		if !slices.Contains([]string{"json", "msgpack", "cbor"}, s) {
			bad("websocket.serializers", strconv.Quote(s), `want "json", "msgpack" or "cbor"`)
		}
	}
	if len(ws.Serializers) == 0 {
		bad("websocket.serializers", "[]", "enable at least one serializer")
	}
	if ws.CompressionLevel < 1 || ws.CompressionLevel > 9 {
		bad("websocket.compression_level", ws.CompressionLevel, "want 1 to 9")
	}
	if ws.QueueMessages <= 0 {
		bad("websocket.queue_messages", ws.QueueMessages, "want a positive number")
	}
	c.WebSocket = websocket.Config{
		Path:                ws.Path,
		Serializers:         ws.Serializers,
		Compression:         ws.Compression,
		CompressionLevel:    ws.CompressionLevel,
		AllowedOrigins:      ws.AllowedOrigins,
		PingInterval:        dur("websocket.ping_interval", ws.PingInterval),
		PongTimeout:         dur("websocket.pong_timeout", ws.PongTimeout),
		WriteTimeout:        dur("websocket.write_timeout", ws.WriteTimeout),
		ReadLimit:           size("websocket.max_message_size", ws.MaxMessageSize),
		QueueMessages:       ws.QueueMessages,
		QueueBytes:          int(size("websocket.queue_bytes", ws.QueueBytes)),
		SlowConsumerTimeout: dur("websocket.slow_consumer_timeout", ws.SlowConsumerTimeout),
	}
	c.Router = router.Config{
		AutoCreateRealms: fc.Router.AutoCreateRealms,
		StrictURI:        fc.Router.StrictURI,
		HelloTimeout:     dur("router.hello_timeout", fc.Router.HelloTimeout),
		AuthTimeout:      dur("router.auth_timeout", fc.Router.AuthTimeout),
		AuthFailureLimit: fc.Router.AuthFailuresPerMinute,
	}
	if fc.Router.AuthFailuresPerMinute < 0 {
		bad("router.auth_failures_per_minute", fc.Router.AuthFailuresPerMinute, "want 0 (no limit) or more")
	}
	seen := map[string]bool{}
	for i, rc := range fc.Realms {
		key := fmt.Sprintf("realms[%d]", i)
		if rc.Name == "" {
			bad(key+".name", `""`, "every realm needs a name")
		} else if seen[rc.Name] {
			bad(key+".name", strconv.Quote(rc.Name), "duplicate realm")
		}
		seen[rc.Name] = true
		disclosure := func(key, v string) string {
			switch v {
			case "", "request":
				return router.DiscloseOnRequest
			case "always", "never":
				return v
			}
			bad(key, strconv.Quote(v), `want "request", "always" or "never"`)
			return ""
		}
		var histories []router.HistoryConfig
		for j, h := range rc.EventHistory {
			hkey := fmt.Sprintf("%s.event_history[%d]", key, j)
			if h.Topic == "" {
				bad(hkey+".topic", `""`, "name the topic to keep events of")
			}
			if h.Match != "" && h.Match != "exact" && h.Match != "prefix" && h.Match != "wildcard" {
				bad(hkey+".match", strconv.Quote(h.Match), `want "exact", "prefix" or "wildcard"`)
			}
			if h.Limit < 0 {
				bad(hkey+".limit", h.Limit, "want a positive number of events (0: 100)")
			}
			histories = append(histories, router.HistoryConfig{Topic: h.Topic, Match: h.Match, Limit: h.Limit})
		}
		realmCfg := router.RealmConfig{
			Name: rc.Name, AnonymousRole: rc.AnonymousRole, EventHistory: histories,
			DiscloseCaller:    disclosure(key+".disclose_caller", rc.DiscloseCaller),
			DisclosePublisher: disclosure(key+".disclose_publisher", rc.DisclosePublisher),
		}
		resolveAuth(key, rc.Auth, rc.Principals, rc.Roles, &realmCfg, bad)
		c.Router.Realms = append(c.Router.Realms, realmCfg)
	}
	if len(c.Router.Realms) == 0 && !c.Router.AutoCreateRealms {
		bad("realms", "[]", "configure at least one realm or set router.auto_create_realms")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid config:\n  %s", strings.Join(errs, "\n  "))
	}
	return c, nil
}

// parseSize parses a byte size: an integer, or a number with a unit
// (KiB, MiB, GiB, KB, MB, GB, B).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size too large")
	}
	return n * mult, nil
}
