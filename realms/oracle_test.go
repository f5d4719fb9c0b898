package realms

import (
	"cmp"
	"slices"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

// The oracle: matching as the broker and dealer did before the pattern
// index, by scanning every subscription or registration with matches().

// naiveSubscriptions returns the subscriptions of b matching topic, in no
// particular order.
func naiveSubscriptions(b *Broker, topic wamp.URI) []*Subscription {
	var out []*Subscription
	for _, s := range b.All() {
		if matches(s.Match, s.Topic, topic) {
			out = append(out, s)
		}
	}
	return out
}

// naiveRegistration is the dealer's old Match: exact, then the longest
// prefix, then the best wildcard by wildcardBetter, by scanning.
func naiveRegistration(d *Dealer, procedure wamp.URI) *Registration {
	var prefix, wildcard *Registration
	for _, p := range d.All() {
		if !matches(p.Match, p.Procedure, procedure) {
			continue
		}
		switch p.Match {
		case wamp.MatchExact:
			return p
		case wamp.MatchPrefix:
			if prefix == nil || len(p.Procedure) > len(prefix.Procedure) {
				prefix = p
			}
		case wamp.MatchWildcard:
			if wildcard == nil || wildcardBetter(p.Procedure, wildcard.Procedure) {
				wildcard = p
			}
		}
	}
	if prefix != nil {
		return prefix
	}
	return wildcard
}

// wildcardBetter reports whether wildcard pattern a takes precedence over b
// for the same URI: at the first component where they differ in being a
// wildcard, the one with the literal component wins (the spec's "longest
// portion of URI components matched before each wildcard").
func wildcardBetter(a, b wamp.URI) bool {
	ac, bc := strings.Split(string(a), "."), strings.Split(string(b), ".")
	for i := range min(len(ac), len(bc)) {
		if (ac[i] == "") != (bc[i] == "") {
			return ac[i] != ""
		}
	}
	return a < b // a stable choice between equals
}

// matchOrder orders the subscriptions matching one topic as Broker.Match
// returns them: exact, prefixes shortest first, wildcards best first, then
// other policies (in any order).
func matchOrder(a, b *Subscription) int {
	if c := cmp.Compare(policyRank(a.Match), policyRank(b.Match)); c != 0 {
		return c
	}
	switch a.Match {
	case wamp.MatchPrefix:
		return cmp.Compare(len(a.Topic), len(b.Topic))
	case wamp.MatchWildcard:
		if a.Topic == b.Topic {
			return 0
		}
		if wildcardBetter(a.Topic, b.Topic) {
			return -1
		}
		return 1
	}
	return 0
}

func policyRank(m wamp.MatchPolicy) int {
	switch m {
	case wamp.MatchExact:
		return 0
	case wamp.MatchPrefix:
		return 1
	case wamp.MatchWildcard:
		return 2
	}
	return 3
}

// checkMatch compares the broker's and the dealer's matching of uri with
// the oracle's.
func checkMatch(t *testing.T, b *Broker, d *Dealer, uri wamp.URI) {
	t.Helper()
	got := b.Match(nil, uri)
	want := naiveSubscriptions(b, uri)
	if !slices.IsSortedFunc(got, matchOrder) {
		t.Errorf("Match(%q) out of order: %v", uri, subTopics(got))
	}
	byID := func(a, b *Subscription) int { return cmp.Compare(a.ID, b.ID) }
	if !slices.Equal(slices.SortedFunc(slices.Values(got), byID), slices.SortedFunc(slices.Values(want), byID)) {
		t.Errorf("Match(%q) = %v, the scan finds %v", uri, subTopics(got), subTopics(want))
	}
	if got, want := d.Match(uri), naiveRegistration(d, uri); got != want {
		t.Errorf("Dealer.Match(%q) = %v, the scan finds %v", uri, regTopic(got), regTopic(want))
	}
}

func subTopics(subs []*Subscription) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = string(s.Match) + ":" + string(s.Topic)
	}
	return out
}

func regTopic(r *Registration) string {
	if r == nil {
		return "<none>"
	}
	return string(r.Match) + ":" + string(r.Procedure)
}
