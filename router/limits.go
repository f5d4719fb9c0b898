package router

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// ErrLimitExceeded is the ABORT or ERROR URI of a configured limit reached.
const ErrLimitExceeded wamp.URI = "junction.error.limit_exceeded"

// Limit is one of the bounds on what a client can make the router hold.
type Limit int

// The router's limits; each is named after its key in config.toml.
const (
	LimitSessions Limit = iota
	LimitSessionsPerAddress
	LimitSubscriptions
	LimitRegistrations
	LimitCalls
	LimitInvocations
	LimitTestaments
	LimitTestamentBytes
	LimitRetainedEvents
	LimitRetainedBytes
	LimitHistoryResult
	LimitAuthFailures
	LimitSubscriptionsPerAddress
	LimitRegistrationsPerAddress
	LimitCallsPerAddress
	LimitTestamentBytesPerAddress
	numLimits
)

var limitNames = [numLimits]string{
	LimitSessions:           "router.max_sessions",
	LimitSessionsPerAddress: "router.max_sessions_per_address",
	LimitSubscriptions:      "router.max_subscriptions_per_session",
	LimitRegistrations:      "router.max_registrations_per_session",
	LimitCalls:              "router.max_calls_per_session",
	LimitInvocations:        "router.max_invocations_per_session",
	LimitTestaments:         "router.max_testaments_per_session",
	LimitTestamentBytes:     "router.max_testament_bytes_per_session",
	LimitRetainedEvents:     "router.max_retained_events",
	LimitRetainedBytes:      "router.max_retained_bytes",
	LimitHistoryResult:      "router.max_history_result_bytes",
	LimitAuthFailures:       "router.auth_failures_per_minute",

	LimitSubscriptionsPerAddress:  "router.max_subscriptions_per_address",
	LimitRegistrationsPerAddress:  "router.max_registrations_per_address",
	LimitCallsPerAddress:          "router.max_calls_per_address",
	LimitTestamentBytesPerAddress: "router.max_testament_bytes_per_address",
}

// String is the limit's config key.
func (l Limit) String() string { return limitNames[l] }

// limitCounts counts the times each limit was reached.
type limitCounts [numLimits]atomic.Uint64

// LimitsReached returns how many times each limit was reached, by config key.
func (s *Stats) LimitsReached() map[string]uint64 {
	out := make(map[string]uint64, numLimits)
	for l := range numLimits {
		out[l.String()] = s.limits[l].Load()
	}
	return out
}

// bound is a configured count or size: def when zero, no bound when negative.
func bound(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return math.MaxInt
	}
	return v
}

// DefaultConfig returns the defaults documented on Config, with no realm.
func DefaultConfig() Config { return withDefaults(Config{}) }

// withDefaults fills in the defaults documented on Config.
func withDefaults(cfg Config) Config {
	if cfg.HelloTimeout == 0 {
		cfg.HelloTimeout = 10 * time.Second
	}
	if cfg.AuthTimeout == 0 {
		cfg.AuthTimeout = 10 * time.Second
	}
	if cfg.MaxURILength == 0 {
		cfg.MaxURILength = 1024
	}
	cfg.MaxSessions = bound(cfg.MaxSessions, 100_000)
	cfg.MaxSessionsPerAddress = bound(cfg.MaxSessionsPerAddress, 1_000)
	cfg.MaxSubscriptionsPerSession = bound(cfg.MaxSubscriptionsPerSession, 10_000)
	cfg.MaxRegistrationsPerSession = bound(cfg.MaxRegistrationsPerSession, 1_000)
	cfg.MaxCallsPerSession = bound(cfg.MaxCallsPerSession, 10_000)
	cfg.MaxInvocationsPerSession = bound(cfg.MaxInvocationsPerSession, 100_000)
	cfg.MaxTestamentsPerSession = bound(cfg.MaxTestamentsPerSession, 100)
	cfg.MaxTestamentBytesPerSession = bound(cfg.MaxTestamentBytesPerSession, 256<<10)
	cfg.MaxSubscriptionsPerAddress = bound(cfg.MaxSubscriptionsPerAddress, 100_000)
	cfg.MaxRegistrationsPerAddress = bound(cfg.MaxRegistrationsPerAddress, 10_000)
	cfg.MaxCallsPerAddress = bound(cfg.MaxCallsPerAddress, 100_000)
	cfg.MaxTestamentBytesPerAddress = bound(cfg.MaxTestamentBytesPerAddress, 16<<20)
	cfg.MaxRetainedEvents = bound(cfg.MaxRetainedEvents, 10_000)
	cfg.MaxRetainedBytes = bound(cfg.MaxRetainedBytes, 64<<20)
	cfg.MaxHistoryBytes = bound(cfg.MaxHistoryBytes, 64<<20)
	cfg.MaxHistoryResultBytes = bound(cfg.MaxHistoryResultBytes, 4<<20)
	cfg.AuthFailureLimit = bound(cfg.AuthFailureLimit, 10)
	if cfg.LimitWarningInterval <= 0 {
		cfg.LimitWarningInterval = 10 * time.Second
	}
	return cfg
}

// storeLimits are the bounds of each realm's event store.
func (cfg *Config) storeLimits() storeLimits {
	return storeLimits{retainedEvents: cfg.MaxRetainedEvents, retainedBytes: cfg.MaxRetainedBytes, historyBytes: cfg.MaxHistoryBytes}
}

// limitReached counts that s reached limit l and logs it at warn with the
// client's address, at most once per address and limit per
// LimitWarningInterval.
func (s *session) limitReached(l Limit, detail string) {
	s.r.stats.limits[l].Add(1)
	if ok, held := s.r.warnings.Allow(l.String() + " " + s.address); ok {
		s.logger().Warn("limit reached", "limit", l.String(), "detail", detail, "held_back", held)
	}
}

// refuseOverLimit answers request with ERROR junction.error.limit_exceeded
// and a sentence, counts and logs it.
func (s *session) refuseOverLimit(l Limit, reqType wamp.MessageType, request wamp.ID, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	s.limitReached(l, msg)
	s.sendError(reqType, request, ErrLimitExceeded, msg+" ("+l.String()+")")
}

// clip cuts text a client chose (a URI, an option name) to what an error
// message or a log line should quote of it.
func clip(s string) string {
	const most = 256
	if len(s) <= most {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:most], len(s))
}
