// Package chat is the chat demo's service: it keeps the last messages
// published to TopicMessage and answers ProcedureHistory with them, so that
// a page that opens late, or reloads, shows what was said before.
//
// A message is an event of TopicMessage with keyword arguments name and
// text, published by the page with disclose_me, so that the router tells
// subscribers which session sent it. The page (web/) and its test
// (chat_test.go, browser-test.mjs) are beside this file; the command is
// ./service.
package chat

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// The demo's URIs.
const (
	TopicMessage     = "chat.message"
	ProcedureHistory = "chat.history"
)

// Limits of a message kept in the history; the page enforces the same ones.
const (
	MaxName = 40
	MaxText = 500
)

// Message is a chat message as the history keeps it.
type Message struct {
	Publication wamp.ID   // the router's publication id: pages use it to drop duplicates
	Session     wamp.ID   // the publisher's session, 0 if not disclosed
	Name, Text  string    // as the publisher sent them
	Time        time.Time // when the service received it
}

// wire is m as chat.history returns it.
func (m Message) wire() map[string]any {
	return map[string]any{
		"publication": uint64(m.Publication),
		"session":     uint64(m.Session),
		"name":        m.Name,
		"text":        m.Text,
		"time":        m.Time.UTC().Format(time.RFC3339Nano),
	}
}

// History keeps the last messages, oldest first. It is safe for concurrent use.
type History struct {
	mu      sync.Mutex
	keep    int
	msgs    []Message
	added   int           // messages added in all
	changed chan struct{} // closed and replaced by each Add
}

// NewHistory keeps the last keep messages (at least 1).
func NewHistory(keep int) *History {
	return &History{keep: max(keep, 1), changed: make(chan struct{})}
}

// Add appends m, dropping the oldest message past the limit.
func (h *History) Add(m Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, m)
	if over := len(h.msgs) - h.keep; over > 0 {
		h.msgs = append(h.msgs[:0], h.msgs[over:]...)
	}
	h.added++
	close(h.changed)
	h.changed = make(chan struct{})
}

// WaitAdded returns once n messages have been added in all, or with ctx's
// error.
func (h *History) WaitAdded(ctx context.Context, n int) error {
	for {
		h.mu.Lock()
		added, changed := h.added, h.changed
		h.mu.Unlock()
		if added >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Last returns the last n messages (all if n <= 0), oldest first.
func (h *History) Last(n int) []Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	msgs := h.msgs
	if n > 0 && n < len(msgs) {
		msgs = msgs[len(msgs)-n:]
	}
	return append([]Message(nil), msgs...)
}

// FromEvent reads a chat message from an event of TopicMessage. It refuses
// events without a non-empty text, and names or texts over the limits.
func FromEvent(ev *clientlib.Event, now time.Time) (Message, bool) {
	name, _ := ev.Kwargs["name"].(string)
	text, _ := ev.Kwargs["text"].(string)
	name, text = strings.TrimSpace(name), strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > MaxText || utf8.RuneCountInString(name) > MaxName {
		return Message{}, false
	}
	if name == "" {
		name = "anonymous"
	}
	publisher, _ := wamp.AsID(ev.Details["publisher"])
	return Message{Publication: ev.Publication, Session: publisher, Name: name, Text: text, Time: now}, true
}

// Serve subscribes c to TopicMessage, keeping each message in h, and then
// registers ProcedureHistory, which answers the last messages, oldest first
// (at most args[0] of them if given). It returns once both are in place; they
// last as long as c's session.
func Serve(ctx context.Context, c *clientlib.Client, h *History, log *slog.Logger) error {
	_, err := c.Subscribe(ctx, TopicMessage, func(ev *clientlib.Event) {
		m, ok := FromEvent(ev, time.Now())
		if !ok {
			log.Info("message ignored", "publication", uint64(ev.Publication), "kwargs", ev.Kwargs)
			return
		}
		h.Add(m)
	}, nil)
	if err != nil {
		return err
	}
	_, err = c.Register(ctx, ProcedureHistory, func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		n := 0
		if len(inv.Args) > 0 {
			v, ok := wamp.AsInt(inv.Args[0])
			if !ok || v < 0 {
				return nil, wamp.NewError(wamp.ErrInvalidArgument, "chat.history takes an optional number of messages")
			}
			n = int(min(v, int64(1<<30)))
		}
		msgs := h.Last(n)
		out := make([]any, len(msgs))
		for i, m := range msgs {
			out[i] = m.wire()
		}
		return &clientlib.Result{Args: []any{out}}, nil
	}, nil)
	return err
}
