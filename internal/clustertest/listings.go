package clustertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// Listing is what the meta API of a client's node lists of its realm, one
// line per item, sorted: the sessions (wamp.session.list), the
// registrations (wamp.registration.list, each with wamp.registration.get
// and its wamp.registration.list_callees) and the subscriptions
// (wamp.subscription.list, each with wamp.subscription.get and its
// wamp.subscription.list_subscribers), with their ids. The creation times
// are left out: each node has its own.
func Listing(ctx context.Context, c *clientlib.Client) (string, error) {
	var lines []string
	res, err := c.Call(ctx, "wamp.session.list", nil, nil, nil)
	if err != nil {
		return "", fmt.Errorf("wamp.session.list: %w", err)
	}
	for _, id := range argList(res) {
		lines = append(lines, fmt.Sprintf("session %v", id))
	}
	for _, kind := range []string{"registration", "subscription"} {
		members := map[string]string{"registration": "list_callees", "subscription": "list_subscribers"}[kind]
		res, err := c.Call(ctx, "wamp."+kind+".list", nil, nil, nil)
		if err != nil {
			return "", fmt.Errorf("wamp.%s.list: %w", kind, err)
		}
		if len(res.Args) == 0 {
			return "", fmt.Errorf("wamp.%s.list: no result", kind)
		}
		byMatch := wamp.AsDict(res.Args[0])
		for _, match := range []string{"exact", "prefix", "wildcard"} {
			ids, _ := byMatch[match].([]any)
			for _, id := range ids {
				got, err := c.Call(ctx, "wamp."+kind+".get", []any{id}, nil, nil)
				if err != nil {
					return "", fmt.Errorf("wamp.%s.get %v: %w", kind, id, err)
				}
				d := wamp.AsDict(got.Args[0])
				who, err := c.Call(ctx, "wamp."+kind+"."+members, []any{id}, nil, nil)
				if err != nil {
					return "", fmt.Errorf("wamp.%s.%s %v: %w", kind, members, id, err)
				}
				lines = append(lines, fmt.Sprintf("%s %s (%s) %v %v %v", kind, idString(id), match, d["uri"], d["match"], d["invoke"])+
					" "+members+" "+strings.Join(argList(who), ","))
			}
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), nil
}

// argList is the first argument of res, a list, as sorted strings.
func argList(res *clientlib.Result) []string {
	if res == nil || len(res.Args) == 0 {
		return nil
	}
	l, _ := res.Args[0].([]any)
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = idString(v)
	}
	slices.Sort(out)
	return out
}

// idString is a decoded id (int64 or uint64, by serializer) in decimal.
func idString(v any) string {
	if id, ok := wamp.AsID(v); ok {
		return fmt.Sprint(uint64(id))
	}
	return fmt.Sprint(v)
}

// Listings are the listings through each of clients (one per node), or the
// first error.
func Listings(ctx context.Context, clients ...*clientlib.Client) ([]string, error) {
	out := make([]string, len(clients))
	for i, c := range clients {
		l, err := Listing(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		out[i] = l
	}
	return out, nil
}

// WaitSameListings polls the listings through clients (one per node) until
// they are identical and, if cond is not nil, cond holds for them; it
// returns how long that took. It fails the test, showing the differences,
// if that takes more than limit.
func WaitSameListings(t testing.TB, limit time.Duration, cond func(listing string) bool, clients ...*clientlib.Client) time.Duration {
	t.Helper()
	start := time.Now()
	var last []string
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ls, err := Listings(ctx, clients...)
		cancel()
		if err == nil && allSame(ls) && (cond == nil || cond(ls[0])) {
			return time.Since(start)
		}
		last, lastErr = ls, err
		if time.Since(start) > limit {
			break
		}
		time.Sleep(10 * time.Millisecond) // polls the condition
	}
	var b strings.Builder
	if lastErr != nil {
		fmt.Fprintf(&b, "last error: %v\n", lastErr)
	}
	for i, l := range last {
		fmt.Fprintf(&b, "--- node %d:\n%s\n", i, l)
	}
	t.Fatalf("the nodes' meta API listings were not identical within %s:\n%s", limit, b.String())
	return 0
}

func allSame(ls []string) bool {
	for _, l := range ls[1:] {
		if l != ls[0] {
			return false
		}
	}
	return true
}
