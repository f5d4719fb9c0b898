// Package logclip bounds the length of log lines: a slog.Handler that cuts
// every string value (and the message) longer than a bound, so that text a
// client chose (a realm name, a URI, an error quoting its input) cannot
// make the router write megabytes per line.
package logclip

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler clips the attributes of each record before passing it on.
type Handler struct {
	next slog.Handler
	max  int
}

var _ slog.Handler = (*Handler)(nil)

// New returns a handler that cuts string values longer than max bytes,
// marking the cut with the original length, and hands records to next.
func New(next slog.Handler, max int) *Handler { return &Handler{next: next, max: max} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Clip(r.Message, h.max), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.clip(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	clipped := make([]slog.Attr, len(as))
	for i, a := range as {
		clipped[i] = h.clip(a)
	}
	return &Handler{next: h.next.WithAttrs(clipped), max: h.max}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), max: h.max}
}

func (h *Handler) clip(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if len(v.String()) > h.max {
			return slog.String(a.Key, Clip(v.String(), h.max))
		}
	case slog.KindGroup:
		group := v.Group()
		clipped := make([]any, len(group))
		for i, g := range group {
			clipped[i] = h.clip(g)
		}
		return slog.Group(a.Key, clipped...)
	case slog.KindAny:
		// Errors, Stringers and values printed with %v: clip their text.
		if s := fmt.Sprint(v.Any()); len(s) > h.max {
			return slog.String(a.Key, Clip(s, h.max))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Clip returns s cut to at most max bytes plus a note of its length.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:max], len(s))
}
