package bridge

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

// TestNonceCache checks the replay memory: a signature is refused while
// it is remembered, the memory holds at most max unexpired signatures
// (then refuses, forgetting none), and expired ones make room.
func TestNonceCache(t *testing.T) {
	t.Parallel()
	n := newNonceCache()
	t0 := time.Unix(1_000_000, 0)
	sig := func(i byte) [sha256.Size]byte { return [sha256.Size]byte{i} }
	if err := n.add(sig(1), t0.Add(time.Minute), t0, 2); err != nil {
		t.Fatal(err)
	}
	var ae *authError
	if err := n.add(sig(1), t0.Add(time.Minute), t0.Add(time.Second), 2); !errors.As(err, &ae) || ae.full {
		t.Fatalf("a replay: %v", err)
	}
	if err := n.add(sig(2), t0.Add(2*time.Minute), t0, 2); err != nil {
		t.Fatal(err)
	}
	if err := n.add(sig(3), t0.Add(time.Minute), t0.Add(30*time.Second), 2); !errors.As(err, &ae) || !ae.full {
		t.Fatalf("full of unexpired signatures: %v", err)
	}
	// Once sig 1 expired, its place is free; sig 2 is still refused.
	later := t0.Add(time.Minute)
	if err := n.add(sig(3), later.Add(time.Minute), later, 2); err != nil {
		t.Fatalf("after an expiry: %v", err)
	}
	if n.len() != 2 {
		t.Errorf("%d signatures remembered, want 2", n.len())
	}
	if err := n.add(sig(2), later.Add(time.Minute), later, 2); err == nil {
		t.Error("an unexpired signature forgotten")
	}
}

// FuzzParseRequest checks that no body panics the parser, that nesting
// over the bound is refused, and that what is accepted can be answered
// (its values encode back to JSON).
func FuzzParseRequest(f *testing.F) {
	for _, seed := range []string{
		`{"procedure": "com.example.add", "args": [1, 2], "kwargs": {"a": {"b": null}}, "options": {"timeout": 5}}`,
		`{"topic": "t", "args": ["\u0000AAEC"], "options": {"exclude_authid": ["x"]}}`,
		`{"procedure": "p", "args": [1e400]}`, `{"procedure": "p", "args": ["\ud800"]}`, `[[[[`, `{"a":"\\"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, k := range []kind{kindCaller, kindPublisher} {
			req, err := parseRequest(k, body, 8)
			if err != nil {
				continue
			}
			if depth(body) > 8 {
				t.Fatalf("nesting %d accepted", depth(body))
			}
			if _, err := encodeAnswer(answer{}, req.args, req.kwargs); err != nil {
				t.Fatalf("accepted %q, whose values do not encode: %v", body, err)
			}
		}
	})
}
