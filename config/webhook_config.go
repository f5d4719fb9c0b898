package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/wamp"
)

// webhooksSection is the HTTP bridge's webhooks, [[bridge.subscriber]] and
// [[bridge.callee]] (none by default).
type webhooksSection struct {
	Subscribers []subscriberSection `mapstructure:"subscriber"`
	Callees     []calleeSection     `mapstructure:"callee"`
}

// hookSection is what both kinds of webhook have: the session and the
// endpoint. The ticket and the secret can stay out of the file, as a
// principal's: ticket_env / secret_env name an environment variable,
// ticket_file / secret_file a file whose content (trimmed) it is.
type hookSection struct {
	Name            string            `mapstructure:"name"`
	Realm           string            `mapstructure:"realm"`
	AuthID          string            `mapstructure:"authid"`
	Role            string            `mapstructure:"role"`
	Ticket          string            `mapstructure:"ticket"`
	TicketEnv       string            `mapstructure:"ticket_env"`
	TicketFile      string            `mapstructure:"ticket_file"`
	SecretEnv       string            `mapstructure:"secret_env"`
	SecretFile      string            `mapstructure:"secret_file"`
	URL             string            `mapstructure:"url"`
	Match           string            `mapstructure:"match"`
	Timeout         string            `mapstructure:"timeout"`
	MaxResponseSize string            `mapstructure:"max_response_size"`
	Headers         map[string]string `mapstructure:"headers"`
	Secret          string            `mapstructure:"secret"`
}

type subscriberSection struct {
	hookSection   `mapstructure:",squash"`
	Topic         string `mapstructure:"topic"`
	QueueMessages int    `mapstructure:"queue_messages"`
	QueueBytes    string `mapstructure:"queue_bytes"`
	Retries       *int   `mapstructure:"retries"`
	BackoffBase   string `mapstructure:"backoff_base"`
	BackoffMax    string `mapstructure:"backoff_max"`
	Concurrency   int    `mapstructure:"concurrency"`
}

type calleeSection struct {
	hookSection   `mapstructure:",squash"`
	Procedure     string `mapstructure:"procedure"`
	Invoke        string `mapstructure:"invoke"`
	MaxConcurrent int    `mapstructure:"max_concurrent"`
}

// resolveWebhooks converts the webhooks; webhook.Config.Validate checks
// what the keys' types do not.
func (bs *webhooksSection) resolveWebhooks(ck *checker, rc router.Config) webhook.Config {
	var c webhook.Config
	for i, s := range bs.Subscribers {
		key := fmt.Sprintf("bridge.subscriber[%d]", i)
		sc := webhook.SubscriberConfig{
			Name: s.Name, Session: s.session(ck, key), Endpoint: s.endpoint(ck, key),
			Topic: s.Topic, Match: wamp.MatchPolicy(s.Match),
			QueueMessages: s.QueueMessages, Retries: s.Retries, Concurrency: s.Concurrency,
			BackoffBase: optDuration(ck, key+".backoff_base", s.BackoffBase),
			BackoffMax:  optDuration(ck, key+".backoff_max", s.BackoffMax),
		}
		if s.QueueBytes != "" {
			sc.QueueBytes = int(ck.size(key+".queue_bytes", s.QueueBytes))
		}
		c.Subscribers = append(c.Subscribers, sc)
	}
	for i, s := range bs.Callees {
		key := fmt.Sprintf("bridge.callee[%d]", i)
		c.Callees = append(c.Callees, webhook.CalleeConfig{
			Name: s.Name, Session: s.session(ck, key), Endpoint: s.endpoint(ck, key),
			Procedure: s.Procedure, Match: wamp.MatchPolicy(s.Match), Invoke: wamp.InvokePolicy(s.Invoke),
			MaxConcurrent: s.MaxConcurrent,
		})
	}
	checkWebhookRealms(ck, c, rc)
	if err := c.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			ck.errs = append(ck.errs, line)
		}
	}
	return c
}

func (h *hookSection) session(ck *checker, key string) webhook.Session {
	return webhook.Session{Realm: h.Realm, AuthID: h.AuthID, Role: h.Role,
		Ticket: secretFrom(key+".ticket", h.Ticket, h.TicketEnv, h.TicketFile, ck.badFormatted)}
}

func (h *hookSection) endpoint(ck *checker, key string) webhook.Endpoint {
	e := webhook.Endpoint{URL: h.URL, Headers: h.Headers,
		Secret:  secretFrom(key+".secret", h.Secret, h.SecretEnv, h.SecretFile, ck.badFormatted),
		Timeout: optDuration(ck, key+".timeout", h.Timeout)}
	if h.MaxResponseSize != "" {
		e.MaxResponseBytes = int(ck.size(key+".max_response_size", h.MaxResponseSize))
	}
	return e
}

// optDuration is ck.duration for a key that may be left out ("": 0, the
// default).
func optDuration(ck *checker, key, s string) time.Duration {
	if s == "" {
		return 0
	}
	return ck.duration(key, s)
}

// checkWebhookRealms refuses a webhook whose realm is not configured (unless
// realms are created on demand), and one that authenticates in a realm
// without the ticket method: found by `junction check`, not at the first
// start.
func checkWebhookRealms(ck *checker, c webhook.Config, rc router.Config) {
	check := func(key string, s webhook.Session) {
		i := slices.IndexFunc(rc.Realms, func(r router.RealmConfig) bool { return r.Name == s.Realm })
		switch {
		case s.Realm == "":
		case i < 0 && !rc.AutoCreateRealms:
			ck.bad(key+".realm", s.Realm, "no such realm in [[realms]]")
		case i >= 0 && s.Role != "" && len(rc.Realms[i].Roles) > 0 &&
			!slices.ContainsFunc(rc.Realms[i].Roles, func(r router.RoleConfig) bool { return r.Name == s.Role }):
			ck.bad(key+".role", s.Role, "no such role in the realm's [[realms.roles]]")
		case i >= 0 && s.Ticket != "" && !slices.Contains(rc.Realms[i].AuthMethods, router.AuthTicket):
			ck.bad(key+".authid", s.AuthID, "the realm does not enable ticket authentication")
		}
	}
	for i, s := range c.Subscribers {
		check(fmt.Sprintf("bridge.subscriber[%d]", i), s.Session)
	}
	for i, s := range c.Callees {
		check(fmt.Sprintf("bridge.callee[%d]", i), s.Session)
	}
}
