package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/junction-wamp/junction/internal/ratelog"
	"github.com/junction-wamp/junction/transport"
)

// Options are what a Set gets besides its Config.
type Options struct {
	// Logger receives the webhooks' logs. Nil: slog.Default().
	Logger *slog.Logger
	// WarningInterval is the shortest interval between two warnings of a
	// kind (a queue overflow, a delivery given up) for one webhook; the
	// next says how many were held back. Default 10s.
	WarningInterval time.Duration
	// RejoinMin and RejoinMax bound the wait before a webhook whose
	// session ended joins again (doubling from RejoinMin). Defaults 1s
	// and 30s.
	RejoinMin, RejoinMax time.Duration
}

// Set runs the webhooks of a Config on a router. Its methods are safe for
// concurrent use.
type Set struct {
	h         transport.Handler
	log       *slog.Logger
	hc        *http.Client
	warn      *ratelog.Limiter
	rejoinMin time.Duration
	rejoinMax time.Duration

	applyMu sync.Mutex // one Apply or Shutdown at a time
	mu      sync.Mutex // guards what follows; never held over I/O
	running map[string]*running
	stats   map[string]*stats // by name, kept across restarts for counters that do not go back
	closed  bool
}

// running is a webhook that runs, and the config it runs with.
type running struct {
	cfg  any // SubscriberConfig or CalleeConfig, defaults filled in
	stop func(ctx context.Context)
}

// New returns a Set of no webhooks on h (a *router.Router or a
// *server.Server); Apply starts them.
func New(h transport.Handler, opts Options) *Set {
	return &Set{
		h:         h,
		log:       cmp.Or(opts.Logger, slog.Default()),
		hc:        newHTTPClient(),
		warn:      ratelog.New(opts.WarningInterval),
		rejoinMin: cmp.Or(opts.RejoinMin, time.Second),
		rejoinMax: cmp.Or(opts.RejoinMax, 30*time.Second),
		running:   map[string]*running{},
		stats:     map[string]*stats{},
	}
}

// ErrClosed is returned by Apply after Shutdown.
var ErrClosed = errors.New("webhook: set shut down")

// Apply makes the set run cfg's webhooks: cfg is validated first (an
// invalid cfg changes nothing); then the webhooks no longer configured, or
// configured differently, stop (a subscriber after delivering its queue,
// a callee after its requests in flight, within ctx); then the new and
// changed ones start, each joining its realm and subscribing or
// registering within ctx. Webhooks configured as they were keep running
// untouched. A webhook that cannot start (realm unknown, authentication
// failed, SUBSCRIBE or REGISTER denied by the realm's roles) does not run:
// the error names each, and the others run. A later Apply tries again.
func (s *Set) Apply(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.WithDefaults()
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	want := map[string]any{}
	for _, c := range cfg.Subscribers {
		want[c.Name] = c
	}
	for _, c := range cfg.Callees {
		want[c.Name] = c
	}
	s.stopUnwanted(ctx, want)
	var errs []error
	for _, c := range cfg.Subscribers {
		errs = append(errs, s.startOne(ctx, c.Name, c, func(st *stats) (func(context.Context), error) {
			return s.startSubscriber(ctx, c, st)
		}))
	}
	for _, c := range cfg.Callees {
		errs = append(errs, s.startOne(ctx, c.Name, c, func(st *stats) (func(context.Context), error) {
			return s.startCallee(ctx, c, st)
		}))
	}
	return errors.Join(errs...)
}

// stopUnwanted stops, together, the webhooks that want does not have as
// they run, and forgets the counters of those it does not name at all.
func (s *Set) stopUnwanted(ctx context.Context, want map[string]any) {
	s.mu.Lock()
	var stops []func(context.Context)
	for name, r := range s.running {
		if w, ok := want[name]; !ok || !reflect.DeepEqual(w, r.cfg) {
			stops = append(stops, r.stop)
			delete(s.running, name)
			reason := "removed"
			if ok {
				reason = "changed"
			}
			s.log.Info("stopping webhook", "webhook", name, "reason", reason)
		}
	}
	for name := range s.stats {
		if _, ok := want[name]; !ok {
			delete(s.stats, name)
		}
	}
	s.mu.Unlock()
	stopAll(ctx, stops)
}

func stopAll(ctx context.Context, stops []func(context.Context)) {
	var wg sync.WaitGroup
	for _, stop := range stops {
		wg.Go(func() { stop(ctx) })
	}
	wg.Wait()
}

// startOne starts webhook name unless it runs already.
func (s *Set) startOne(ctx context.Context, name string, cfg any, start func(*stats) (func(context.Context), error)) error {
	s.mu.Lock()
	_, ok := s.running[name]
	st := s.statsFor(name, cfg)
	s.mu.Unlock()
	if ok {
		return nil
	}
	stop, err := start(st)
	if err != nil {
		s.log.Error("webhook not started", "webhook", name, "error", err)
		return fmt.Errorf("webhook %s: %w", name, err)
	}
	s.mu.Lock()
	s.running[name] = &running{cfg: cfg, stop: stop}
	s.mu.Unlock()
	s.log.Info("webhook started", "webhook", name)
	return nil
}

// statsFor returns the counters of name, new ones when it changed kind.
// Called with s.mu held.
func (s *Set) statsFor(name string, cfg any) *stats {
	k := kindOf(cfg)
	st := s.stats[name]
	if st == nil || st.kind != k {
		st = &stats{kind: k}
		s.stats[name] = st
	}
	return st
}

func kindOf(cfg any) string {
	if _, ok := cfg.(SubscriberConfig); ok {
		return "subscriber"
	}
	return "callee"
}

// Shutdown stops every webhook, together, within ctx: subscribers leave
// their realm, then deliver what they queued until ctx ends (what is left
// then is counted as dropped, reason shutdown, and logged); callees take
// no new call, finish those in flight within ctx, then leave. It returns
// ctx's error if ctx ended first.
func (s *Set) Shutdown(ctx context.Context) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	s.closed = true
	var stops []func(context.Context)
	for name, r := range s.running {
		stops = append(stops, r.stop)
		delete(s.running, name)
	}
	s.mu.Unlock()
	stopAll(ctx, stops)
	s.hc.CloseIdleConnections()
	return ctx.Err()
}

// warnf logs a warning about webhook name unless one of the same kind was
// logged within the warning interval; it says how many were held back.
func (s *Set) warnf(name, kind, msg string, args ...any) {
	ok, held := s.warn.Allow(name + "\x00" + kind)
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "held_back", held)
	}
	s.log.Warn(msg, append([]any{"webhook", name}, args...)...)
}
