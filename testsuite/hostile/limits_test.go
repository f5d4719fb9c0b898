package hostile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
)

const limitExceeded = "junction.error.limit_exceeded"

// pipeline writes the n messages msg(1..n) on c in bursts of 500 without
// waiting for answers, each burst followed by a marker CALL
// (wamp.session.count, request id n+1, n+2...), and hands every message
// read before each marker's RESULT to each. A burst bounds what the router
// queues for c below its queue's bound, however slowly this process reads.
func pipeline(t *testing.T, c *Conn, n int, msg func(i int) []byte, each func(Msg)) {
	t.Helper()
	const burst = 500
	marker := int64(n)
	for first := 1; first <= n; first += burst {
		for i := first; i < first+burst && i <= n; i++ {
			c.SendRaw(t, msg(i))
		}
		marker++
		c.SendRaw(t, fmt.Appendf(nil, `[48,%d,{},"wamp.session.count",[]]`, marker))
		for {
			m, err := c.Read()
			if err != nil {
				t.Fatalf("pipeline of %d messages, at %d: %v", n, first, err)
			}
			if m.Type() == RESULT && m.ID(1) == marker {
				break
			}
			each(m)
		}
	}
}

// tally counts the answers of a pipeline by type and error URI.
type tally map[string]int

func (ty tally) add(m Msg) {
	key := fmt.Sprint(m.Type())
	if m.Type() == ERROR {
		key = m.Reason()
	}
	ty[key]++
}

// expect fails the test unless ty holds ok answers of type okType and
// refused ERRORs junction.error.limit_exceeded, and nothing else.
func (ty tally) expect(t *testing.T, what string, okType, ok, refused int) {
	t.Helper()
	want := tally{}
	if ok > 0 {
		want[fmt.Sprint(okType)] = ok
	}
	if refused > 0 {
		want[limitExceeded] = refused
	}
	if fmt.Sprint(map[string]int(ty)) != fmt.Sprint(map[string]int(want)) {
		t.Errorf("%s: answers by type or error %v, want %v", what, ty, want)
	}
}

type limitCase struct {
	name   string
	config string // the [router] section's keys
	limit  string // the config key counted in junction_limits_reached_total
	rss    int64  // bound, MiB
	attack func(t *testing.T, j *Junction, b *Bystander)
}

// TestLimits: per-session and per-realm bounds. Each attack goes far past
// its bound (configured small), gets ERROR junction.error.limit_exceeded
// for everything past it and nothing else, the limit is counted in
// /metrics, the router's peak RSS stays bounded and a bystander is served.
func TestLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []limitCase{
		{"subscriptions", "max_subscriptions_per_session = 100", "router.max_subscriptions_per_session", 64, attackSubscriptions},
		{"registrations", "max_registrations_per_session = 50", "router.max_registrations_per_session", 64, attackRegistrations},
		{"calls", "max_calls_per_session = 100", "router.max_calls_per_session", 64, attackCalls},
		{"invocations", "max_invocations_per_session = 100", "router.max_invocations_per_session", 64, attackCalls},
		{"testaments", "max_testaments_per_session = 10", "router.max_testaments_per_session", 64, attackTestaments},
		{"testament_bytes", "max_testaments_per_session = 1000\nmax_testament_bytes_per_session = \"4KiB\"", "router.max_testament_bytes_per_session", 64, attackTestamentBytes},
		{"subscriptions_per_address", "max_subscriptions_per_session = 100\nmax_subscriptions_per_address = 250", "router.max_subscriptions_per_address", 64, attackSubscriptionsPerAddress},
		{"calls_per_address", "max_calls_per_session = 100\nmax_calls_per_address = 150", "router.max_calls_per_address", 64, attackCallsPerAddress},
		{"retained_events", "max_retained_events = 100", "router.max_retained_events", 64, attackRetainedEvents},
		{"retained_bytes", "max_retained_bytes = \"64KiB\"", "router.max_retained_bytes", 64, attackRetainedBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := start(t, "[router]\n"+tc.config+"\n"+anonRealm)
			b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
			tc.attack(t, j, b)
			j.CheckRSS(t, tc.rss)
			j.CheckLimitCounted(t, tc.limit)
			b.Check(t)
		})
	}
}

// attackSubscriptions: 10,000 SUBSCRIBEs to distinct topics, 100 allowed.
func attackSubscriptions(t *testing.T, j *Junction, _ *Bystander) {
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	ty := tally{}
	pipeline(t, c, 10000, func(i int) []byte { return fmt.Appendf(nil, `[32,%d,{},"sub.t%d"]`, i, i) }, ty.add)
	ty.expect(t, "10,000 SUBSCRIBEs", SUBSCRIBED, 100, 9900)
}

// attackSubscriptionsPerAddress: 5 sessions from one address, each
// subscribing 100 distinct topics (its own bound), one after the other:
// the address may hold 250 subscriptions in all, so the first two get 100
// each, the third 50, the last two none.
func attackSubscriptionsPerAddress(t *testing.T, j *Junction, _ *Bystander) {
	for s, want := range []int{100, 100, 50, 0, 0} {
		c := Dial(t, j.URL(), JSON, DialOptions{})
		c.Join(t, "realm1")
		ty := tally{}
		pipeline(t, c, 100, func(i int) []byte { return fmt.Appendf(nil, `[32,%d,{},"sub.s%d.t%d"]`, i, s, i) }, ty.add)
		ty.expect(t, fmt.Sprintf("session %d: 100 SUBSCRIBEs", s+1), SUBSCRIBED, want, 100-want)
	}
}

// attackCallsPerAddress: 3 sessions from one address, each making 100
// calls (its own bound) to a callee that never answers, one after the
// other: the address may have 150 in flight, so the third session's calls
// are all refused.
func attackCallsPerAddress(t *testing.T, j *Junction, _ *Bystander) {
	callee := Dial(t, j.URL(), JSON, DialOptions{})
	callee.Join(t, "realm1")
	callee.Send(t, REGISTER, 1, map[string]any{}, "app.never")
	callee.Expect(t, REGISTERED)
	for s, want := range []int{100, 50, 0} {
		c := Dial(t, j.URL(), JSON, DialOptions{})
		c.Join(t, "realm1")
		ty := tally{}
		pipeline(t, c, 100, func(i int) []byte { return fmt.Appendf(nil, `[48,%d,{},"app.never",[]]`, i) }, ty.add)
		ty.expect(t, fmt.Sprintf("session %d: 100 CALLs in flight", s+1), RESULT, 0, 100-want)
	}
	for range 150 {
		callee.Expect(t, INVOCATION)
	}
}

// attackRegistrations: 10,000 REGISTERs of distinct procedures, 50 allowed.
func attackRegistrations(t *testing.T, j *Junction, _ *Bystander) {
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	ty := tally{}
	pipeline(t, c, 10000, func(i int) []byte { return fmt.Appendf(nil, `[64,%d,{},"reg.p%d"]`, i, i) }, ty.add)
	ty.expect(t, "10,000 REGISTERs", REGISTERED, 50, 9950)
}

// attackCalls: 10,000 CALLs to a callee that never answers; 100 are
// routed (max_calls_per_session or max_invocations_per_session = 100).
func attackCalls(t *testing.T, j *Junction, _ *Bystander) {
	callee := Dial(t, j.URL(), JSON, DialOptions{})
	callee.Join(t, "realm1")
	callee.Send(t, REGISTER, 1, map[string]any{}, "app.never")
	callee.Expect(t, REGISTERED)
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	ty := tally{}
	pipeline(t, c, 10000, func(i int) []byte { return fmt.Appendf(nil, `[48,%d,{},"app.never",["%d"]]`, i, i) }, func(m Msg) {
		ty.add(m)
		if m.Type() == ERROR && m.ID(2) <= 100 {
			t.Errorf("CALL %d refused: %v", m.ID(2), clipMsg(m))
		}
	})
	ty.expect(t, "10,000 CALLs in flight", RESULT, 0, 9900)
	for i := range 100 {
		if m := callee.Expect(t, INVOCATION); m.ID(1) < 1 || fmt.Sprint(m.Args(4)) != fmt.Sprintf("[%d]", i+1) {
			t.Fatalf("INVOCATION %d: %v", i+1, clipMsg(m))
		}
	}
}

// attackTestaments: 1,000 testaments of 1 KiB, 10 allowed.
func attackTestaments(t *testing.T, j *Junction, _ *Bystander) {
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	ty := tally{}
	arg := strings.Repeat("x", 1024)
	pipeline(t, c, 1000, func(i int) []byte {
		return fmt.Appendf(nil, `[48,%d,{},"wamp.session.add_testament",["app.gone%d",["%s"],{}]]`, i, i, arg)
	}, ty.add)
	ty.expect(t, "1,000 testaments", RESULT, 10, 990)
}

// attackTestamentBytes: with 4 KiB allowed in all, 4 testaments of 900
// bytes fit and the fifth does not; then 1,000 of 64 KiB, none of which
// fits.
func attackTestamentBytes(t *testing.T, j *Junction, _ *Bystander) {
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	ty := tally{}
	small := strings.Repeat("x", 900)
	pipeline(t, c, 5, func(i int) []byte {
		return fmt.Appendf(nil, `[48,%d,{},"wamp.session.add_testament",["app.gone%d",["%s"],{}]]`, i, i, small)
	}, ty.add)
	ty.expect(t, "5 testaments of 900 bytes", RESULT, 4, 1)
	ty = tally{}
	big := strings.Repeat("x", 64<<10)
	pipeline(t, c, 1000, func(i int) []byte {
		return fmt.Appendf(nil, `[48,%d,{},"wamp.session.add_testament",["app.big%d",["%s"],{}]]`, i, i, big)
	}, ty.add)
	ty.expect(t, "1,000 testaments of 64 KiB", RESULT, 0, 1000)
}

// attackRetainedEvents: 30,000 acknowledged retained publications to
// distinct topics, 100 kept; the refused ones are not delivered either.
func attackRetainedEvents(t *testing.T, j *Junction, b *Bystander) {
	attackRetained(t, j, b, 30000, 16, 100)
}

// attackRetainedBytes: 4,000 retained publications of 10,000 bytes to
// distinct topics; 64 KiB hold 6 of them.
func attackRetainedBytes(t *testing.T, j *Junction, b *Bystander) {
	attackRetained(t, j, b, 4000, 10000, 6)
}

func attackRetained(t *testing.T, j *Junction, b *Bystander, n, size, kept int) {
	events := make(chan *clientlib.Event, n+1)
	if _, err := b.Client().Subscribe(Ctx(t), "ret", func(ev *clientlib.Event) { events <- ev }, &clientlib.SubscribeOptions{Match: "prefix"}); err != nil {
		t.Fatal(err)
	}
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	ty := tally{}
	arg := strings.Repeat("r", size-4) // ["..."] is size bytes
	pipeline(t, c, n, func(i int) []byte {
		return fmt.Appendf(nil, `[16,%d,{"acknowledge":true,"retain":true},"ret.t%d",["%s"]]`, i, i, arg)
	}, ty.add)
	ty.expect(t, fmt.Sprintf("%d retained publications of %d bytes", n, size), PUBLISHED, kept, n-kept)
	c.Send(t, PUBLISH, n+2, map[string]any{"acknowledge": true}, "ret.marker", []any{"marker"})
	c.Expect(t, PUBLISHED)
	for i := 0; i <= kept; i++ {
		select {
		case ev := <-events:
			if ev.Topic == "ret.marker" {
				if i != kept {
					t.Errorf("%d retained publications delivered before the marker, want %d", i, kept)
				}
				return
			}
		case <-Ctx(t).Done():
			t.Fatalf("no marker event after %d events", i)
		}
	}
	t.Errorf("more than %d retained publications delivered", kept)
}

// TestCallIDReuse: a caller reusing the request ids of its calls in flight
// (10,000 CALLs over 50 ids, to a callee that never answers) cannot get
// past max_calls_per_session = 100: the callee gets at most 100
// INVOCATIONs from it (counted up to a marker call of the bystander), and
// the caller gets no RESULT, only ERRORs or ABORT
// wamp.error.protocol_violation (the spec's answer to a request id that is
// not sequential).
func TestCallIDReuse(t *testing.T) {
	t.Parallel()
	j := start(t, "[router]\nmax_calls_per_session = 100\n"+anonRealm)
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	callee := rawCallee(t, j, JSON, "app.never")
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	go func() {
		for i := range 10000 {
			if c.WS.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `[48,%d,{},"app.never",[]]`, i%50+1)) != nil {
				return
			}
		}
		_ = c.WS.WriteMessage(websocket.TextMessage, []byte(`[48,50001,{},"wamp.session.count",[]]`))
	}()
	ty := tally{}
	for {
		m, err := c.Read()
		if err != nil || (m.Type() == RESULT && m.ID(1) == 50001) || m.Type() == ABORT {
			if m.Type() == ABORT && m.Reason() != protocolViolation {
				t.Errorf("caller: %v, want ABORT %s if any", clipMsg(m), protocolViolation)
			}
			break
		}
		ty.add(m)
	}
	if ty[fmt.Sprint(RESULT)] > 0 {
		t.Errorf("caller: answers %v, want no RESULT", ty)
	}
	done := make(chan error, 1)
	go func() { _, err := b.Client().Call(Ctx(t), "app.never", []any{"marker"}, nil, nil); done <- err }()
	for n := 0; ; n++ {
		m := callee.Expect(t, INVOCATION)
		if fmt.Sprint(m.Args(4)) == "[marker]" {
			callee.Send(t, YIELD, m.ID(1), map[string]any{})
			t.Logf("%d INVOCATIONs from 10,000 CALLs reusing 50 request ids (caller's answers: %v)", n, ty)
			if n > 100 {
				t.Errorf("the callee got %d INVOCATIONs from one caller, over max_calls_per_session = 100", n)
			}
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("marker call: %v", err)
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}
