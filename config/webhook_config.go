package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/wamp"
)

// bridgeSection is [bridge]: the HTTP bridge's webhooks, [[bridge.subscriber]]
// and [[bridge.callee]] (none by default).
type bridgeSection struct {
	Subscribers []subscriberSection `mapstructure:"subscriber"`
	Callees     []calleeSection     `mapstructure:"callee"`
}

// hookSection is what both kinds of webhook have: the session and the
// endpoint.
type hookSection struct {
	Name            string            `mapstructure:"name"`
	Realm           string            `mapstructure:"realm"`
	AuthID          string            `mapstructure:"authid"`
	Ticket          string            `mapstructure:"ticket"`
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
}

type calleeSection struct {
	hookSection   `mapstructure:",squash"`
	Procedure     string `mapstructure:"procedure"`
	Invoke        string `mapstructure:"invoke"`
	MaxConcurrent int    `mapstructure:"max_concurrent"`
}

// resolve converts the webhooks; webhook.Config.Validate checks what the
// keys' types do not.
func (bs *bridgeSection) resolve(ck *checker) webhook.Config {
	var c webhook.Config
	for i, s := range bs.Subscribers {
		key := fmt.Sprintf("bridge.subscriber[%d]", i)
		sc := webhook.SubscriberConfig{
			Name: s.Name, Session: s.session(), Endpoint: s.endpoint(ck, key),
			Topic: s.Topic, Match: wamp.MatchPolicy(s.Match),
			QueueMessages: s.QueueMessages, Retries: s.Retries,
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
			Name: s.Name, Session: s.session(), Endpoint: s.endpoint(ck, key),
			Procedure: s.Procedure, Match: wamp.MatchPolicy(s.Match), Invoke: wamp.InvokePolicy(s.Invoke),
			MaxConcurrent: s.MaxConcurrent,
		})
	}
	if err := c.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			ck.errs = append(ck.errs, line)
		}
	}
	return c
}

func (h *hookSection) session() webhook.Session {
	return webhook.Session{Realm: h.Realm, AuthID: h.AuthID, Ticket: h.Ticket}
}

func (h *hookSection) endpoint(ck *checker, key string) webhook.Endpoint {
	e := webhook.Endpoint{URL: h.URL, Headers: h.Headers, Secret: h.Secret,
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
