package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// Config is the set of webhooks a Set runs. The zero Config runs none.
type Config struct {
	Subscribers []SubscriberConfig
	Callees     []CalleeConfig
}

// Session is who a webhook's WAMP session is.
type Session struct {
	// Realm is the realm the session joins. Required.
	Realm string
	// AuthID and Ticket authenticate the session with the ticket method
	// as the realm's principal AuthID, whose role then applies. Both ""
	// (the default): anonymous, with the realm's anonymous role.
	AuthID string
	Ticket string
	// Role, instead of a ticket, is the role the session acts with,
	// vouched for in-process as the HTTP bridge's sessions are: no
	// principal is needed, the role's rules apply, and a role the realm
	// does not have is refused (wamp.error.no_such_role). Its authid is
	// AuthID, or "webhook-<name>".
	Role string
}

// Endpoint is the HTTP side of a webhook.
type Endpoint struct {
	// URL is where requests are POSTed: http:// or https://. Required.
	URL string
	// Timeout bounds each request, from connecting to reading the whole
	// response. Default 10s.
	Timeout time.Duration
	// MaxResponseBytes bounds the response body read. Default 1 MiB. A
	// callee's larger response is an error; a subscriber's is not read
	// further.
	MaxResponseBytes int
	// Headers are added to every request (an Authorization header, for
	// instance).
	Headers map[string]string
	// Secret, when set, signs every request: the X-Junction-Signature
	// header is "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<unix seconds>.<body>" keyed with Secret>".
	Secret string
}

// SubscriberConfig is a subscriber webhook: the events of a topic POSTed to
// an endpoint, one at a time and in order, retried with backoff.
type SubscriberConfig struct {
	// Name labels the webhook in logs and metrics and identifies it
	// across Apply; unique among a Config's webhooks. Default
	// "subscriber[<index>]".
	Name string
	Session
	Endpoint
	// Topic is the topic (or pattern) subscribed to. Required.
	Topic string
	// Match is the subscription's match policy: exact (default), prefix
	// or wildcard.
	Match wamp.MatchPolicy
	// QueueMessages and QueueBytes bound the events waiting for delivery
	// (bytes: their encoded request bodies). An event past either bound
	// is dropped and counted. Defaults 1000 and 16 MiB; QueueMessages at
	// most MaxQueueMessages.
	QueueMessages int
	QueueBytes    int
	// Retries is how many times a failed delivery (connection error,
	// timeout, 408, 429, 5xx) is tried again before it is given up. Nil:
	// 5; 0: none.
	Retries *int
	// BackoffBase and BackoffMax: the n-th retry waits BackoffBase*2^(n-1),
	// at most BackoffMax, less up to half of it at random (jitter); longer
	// when the answer had a Retry-After of seconds, up to BackoffMax.
	// Defaults 500ms and 30s.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Concurrency is how many deliveries may be in flight at once. 1 (the
	// default) delivers in publication order; more delivers faster to a
	// distant endpoint, in no guaranteed order. At most MaxConcurrency.
	Concurrency int
}

// CalleeConfig is a callee webhook: a procedure registered in a realm whose
// calls are POSTed to an endpoint, the response being the call's result.
type CalleeConfig struct {
	// Name labels the webhook in logs and metrics and identifies it
	// across Apply; unique among a Config's webhooks. Default
	// "callee[<index>]".
	Name string
	Session
	Endpoint
	// Procedure is the procedure (or pattern) registered. Required.
	Procedure string
	// Match is the registration's match policy: exact (default), prefix
	// or wildcard.
	Match wamp.MatchPolicy
	// Invoke is the registration's invocation policy: single (default),
	// roundrobin, random, first or last; anything but single shares the
	// procedure with other callees.
	Invoke wamp.InvokePolicy
	// MaxConcurrent bounds the requests in flight; a call beyond is
	// answered junction.error.bridge.busy at once. Default 64.
	MaxConcurrent int
}

// Defaults.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	DefaultQueueMessages    = 1000
	DefaultQueueBytes       = 16 << 20
	DefaultRetries          = 5
	DefaultBackoffBase      = 500 * time.Millisecond
	DefaultBackoffMax       = 30 * time.Second
	DefaultMaxConcurrent    = 64
	// MaxQueueMessages is the largest QueueMessages: the queue's slots
	// are allocated when the webhook starts.
	MaxQueueMessages = 1 << 20
	// MaxConcurrency is the largest SubscriberConfig.Concurrency.
	MaxConcurrency = 256
)

func (e Endpoint) withDefaults() Endpoint {
	if e.Timeout == 0 {
		e.Timeout = DefaultTimeout
	}
	if e.MaxResponseBytes == 0 {
		e.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return e
}

func (s SubscriberConfig) withDefaults(i int) SubscriberConfig {
	if s.Name == "" {
		s.Name = fmt.Sprintf("subscriber[%d]", i)
	}
	s.Endpoint = s.Endpoint.withDefaults()
	s.Match = s.Match.Norm()
	if s.QueueMessages == 0 {
		s.QueueMessages = DefaultQueueMessages
	}
	if s.QueueBytes == 0 {
		s.QueueBytes = DefaultQueueBytes
	}
	if s.Retries == nil {
		n := DefaultRetries
		s.Retries = &n
	}
	if s.BackoffBase == 0 {
		s.BackoffBase = DefaultBackoffBase
	}
	if s.BackoffMax == 0 {
		s.BackoffMax = max(DefaultBackoffMax, s.BackoffBase)
	}
	if s.Concurrency == 0 {
		s.Concurrency = 1
	}
	return s
}

func (c CalleeConfig) withDefaults(i int) CalleeConfig {
	if c.Name == "" {
		c.Name = fmt.Sprintf("callee[%d]", i)
	}
	c.Endpoint = c.Endpoint.withDefaults()
	c.Match = c.Match.Norm()
	if c.Invoke == "" {
		c.Invoke = wamp.InvokeSingle
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	return c
}

// WithDefaults returns c with the defaults documented on its fields filled in.
func (c Config) WithDefaults() Config {
	out := Config{}
	for i, s := range c.Subscribers {
		out.Subscribers = append(out.Subscribers, s.withDefaults(i))
	}
	for i, e := range c.Callees {
		out.Callees = append(out.Callees, e.withDefaults(i))
	}
	return out
}

// Validate checks c, defaults filled in, and reports every invalid value,
// each named by its config key (bridge.subscriber[0].url...).
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(key string, v any, why string) {
		errs = append(errs, fmt.Errorf("%s = %v: %s", key, v, why))
	}
	names := map[string]bool{}
	name := func(key, n string) {
		if names[n] {
			bad(key+".name", n, "two webhooks have this name")
		}
		names[n] = true
	}
	for i, s := range c.Subscribers {
		key := fmt.Sprintf("bridge.subscriber[%d]", i)
		name(key, s.Name)
		s.Session.check(key, bad)
		s.Endpoint.check(key, bad)
		checkURI(key+".topic", s.Topic, s.Match, bad)
		if s.QueueMessages < 0 || s.QueueMessages > MaxQueueMessages {
			bad(key+".queue_messages", s.QueueMessages, fmt.Sprintf("want 1 to %d events", MaxQueueMessages))
		}
		if s.QueueBytes < 0 {
			bad(key+".queue_bytes", s.QueueBytes, "want a positive size")
		}
		if s.Concurrency < 0 || s.Concurrency > MaxConcurrency {
			bad(key+".concurrency", s.Concurrency, fmt.Sprintf("want 1 to %d deliveries", MaxConcurrency))
		}
		if *s.Retries < 0 {
			bad(key+".retries", *s.Retries, "want 0 or more")
		}
		if s.BackoffBase < 0 || s.BackoffMax < s.BackoffBase {
			bad(key+".backoff_max", s.BackoffMax, "want a positive backoff_base and backoff_max at least backoff_base")
		}
	}
	for i, e := range c.Callees {
		key := fmt.Sprintf("bridge.callee[%d]", i)
		name(key, e.Name)
		e.Session.check(key, bad)
		e.Endpoint.check(key, bad)
		checkURI(key+".procedure", e.Procedure, e.Match, bad)
		if !e.Invoke.Valid() {
			bad(key+".invoke", e.Invoke, "want single, roundrobin, random, first or last")
		}
		if e.MaxConcurrent < 0 {
			bad(key+".max_concurrent", e.MaxConcurrent, "want a positive number of requests")
		}
	}
	return errors.Join(errs...)
}

func (s Session) check(key string, bad func(string, any, string)) {
	if s.Realm == "" {
		bad(key+".realm", `""`, "name the realm the webhook's session joins")
	}
	switch {
	case s.Role != "" && s.Ticket != "":
		bad(key+".role", s.Role, "set a role or a ticket, not both")
	case s.Role == "" && (s.AuthID == "") != (s.Ticket == ""):
		bad(key+".authid", s.AuthID, "set both authid and ticket (ticket authentication), a role, or neither (anonymous)")
	}
}

func (e Endpoint) check(key string, bad func(string, any, string)) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(key+".url", e.URL, "want an http:// or https:// URL")
	}
	if e.Timeout < 0 {
		bad(key+".timeout", e.Timeout, "want a positive duration")
	}
	if e.MaxResponseBytes < 0 {
		bad(key+".max_response_size", e.MaxResponseBytes, "want a positive size")
	}
	for k, v := range e.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n") {
			bad(key+".headers", k, "not a valid HTTP header")
		}
	}
}

func checkURI(key, uri string, match wamp.MatchPolicy, bad func(string, any, string)) {
	if !match.Valid() {
		bad(key[:strings.LastIndex(key, ".")]+".match", match, "want exact, prefix or wildcard")
		return
	}
	if !wamp.ValidURI(wamp.URI(uri), false, match.Pattern()) {
		bad(key, uri, "not a valid URI")
	}
}
