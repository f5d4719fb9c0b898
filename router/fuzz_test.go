package router

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// FuzzSession drives one session with an arbitrary sequence of JSON frames
// (one per line) next to a well-behaved session, and checks that the router
// neither panics nor leaks the fuzzed session's state, and that the other
// session keeps working.
func FuzzSession(f *testing.F) {
	hello := `[1,"realm1",{"roles":{"caller":{},"callee":{},"publisher":{},"subscriber":{}}}]`
	for _, seed := range []string{
		hello,
		hello + "\n" + `[64,1,{},"com.example.p"]` + "\n" + `[48,2,{},"com.example.p",[1,2]]` + "\n" + `[70,1,{},[3]]`,
		hello + "\n" + `[32,1,{},"com.example.t"]` + "\n" + `[16,2,{"acknowledge":true,"exclude_me":false},"com.example.t",["x"],{"k":1}]`,
		hello + "\n" + `[34,1,5]` + "\n" + `[66,2,7]` + "\n" + `[6,{},"wamp.close.normal"]`,
		hello + "\n" + `[8,68,1,{},"com.example.error",["e"]]` + "\n" + `[49,3,{}]`,
		hello + "\n" + `[48,1,{},"observer.proc",["hi"]]` + "\n" + `[16,2,{},"observer.topic",[1]]`,
		hello + "\n" + hello,
		`[48,1,{},"x"]`,
		hello + "\n" + `[2,1,{}]`,
		hello + "\n" + `not json`,
		hello + "\n" + `[99,1]`,
		hello + "\n" + `[48,0,{},"x"]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newTestRouter(t, Config{})
		observer, _ := join(t, r, "msgpack")
		register(t, observer, 1, "observer.proc")
		subscribe(t, observer, 2, "observer.topic")

		p := newFakePeer(t, "json")
		done := make(chan struct{})
		go func() { r.ServePeer(p); close(done) }()
		go func() { // drain what the router sends the fuzzed session
			for {
				select {
				case <-p.out:
				case <-done:
					return
				}
			}
		}()
		// A guard against hangs (not a timing assertion): an input the
		// router neither reads nor ends the session on within a generous
		// bound fails with every goroutine's stack, and is kept in testdata.
		hung := time.After(20 * time.Second)
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			var m wamp.Message
			if msg, err := p.ser.Decode(line); err != nil {
				m = recvError{&transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}}
			} else {
				m = msg
			}
			select {
			case p.in <- m:
			case <-p.Done():
			case <-hung:
				failHung(t, "reading the input")
			}
		}
		p.Close(transport.CloseNormal, "fuzz input over")
		select {
		case <-done:
		case <-hung:
			failHung(t, "ending the session")
		}

		rm := r.realm("realm1")
		if n := rm.SessionCount(); n != 1 {
			t.Fatalf("%d sessions left, want the observer only", n)
		}
		if n := rm.Dealer.Count(); n != 1 {
			t.Fatalf("%d registrations left, want the observer's", n)
		}
		if n := rm.Broker.Count(); n != 1 {
			t.Fatalf("%d subscriptions left, want the observer's", n)
		}
		// The observer is unaffected. It may have received invocations and
		// events from the fuzzed session; skip them.
		observer.in <- &wamp.Subscribe{Request: 3, Options: wamp.Dict{}, Topic: "observer.after"}
		for {
			if _, ok := observer.expect(t).(*wamp.Subscribed); ok {
				break
			}
		}
	})
}

// failHung fails a fuzz input that hung while doing what, with every
// goroutine's stack.
func failHung(t *testing.T, what string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Fatalf("the router hung %s:\n%s", what, buf)
}
