package router

import (
	"math"
	"net"
	"sync"
	"time"
)

// maxFailureEntries bounds the addresses the failure log holds.
const maxFailureEntries = 100_000

// failureLog counts, per client address, the authentications that failed
// in the last minute and those in progress. An authentication in progress
// counts as a failure until it succeeds, so an address may run at most
// AuthFailureLimit of them at once: HELLOs opened in parallel test no more
// guesses than HELLOs one after the other.
type failureLog struct {
	mu    sync.Mutex
	byIP  map[string]*failures
	swept time.Time // the last sweep of a full table
}

type failures struct {
	count   int       // failed since `since`
	since   time.Time // the start of the minute counted
	pending int       // authentications in progress
}

// reserve takes a slot for an authentication from ip. It returns false,
// and takes none, when the address's failures and authentications in
// progress reach limit, or when the table is full of addresses with
// authentications in progress.
func (f *failureLog) reserve(ip string, limit int) bool {
	if limit <= 0 || limit == math.MaxInt {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	e := f.byIP[ip]
	if e == nil {
		if !f.makeRoom(now) {
			return false
		}
		e = &failures{since: now}
		f.byIP[ip] = e
	}
	e.expire(now)
	if e.count+e.pending >= limit {
		return false
	}
	e.pending++
	return true
}

// release ends an authentication reserve allowed; failed counts it as a failure.
func (f *failureLog) release(ip string, failed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.byIP[ip]
	if e == nil {
		return // not tracked: no limit
	}
	now := time.Now()
	e.pending--
	e.expire(now)
	if failed {
		if e.count == 0 {
			e.since = now
		}
		e.count++
	}
	if e.count == 0 && e.pending == 0 {
		delete(f.byIP, ip)
	}
}

// expire starts a new minute when the one counted is over.
func (e *failures) expire(now time.Time) {
	if now.Sub(e.since) > time.Minute {
		e.count, e.since = 0, now
	}
}

// makeRoom makes room for one more address: it forgets the addresses
// whose minute is over (at most once a second: it walks the table), else
// one address without authentications in progress. It reports false when
// every address has one in progress.
func (f *failureLog) makeRoom(now time.Time) bool {
	if f.byIP == nil {
		f.byIP = make(map[string]*failures)
	}
	if len(f.byIP) < maxFailureEntries {
		return true
	}
	if now.Sub(f.swept) >= time.Second {
		f.swept = now
		for ip, e := range f.byIP {
			if e.pending == 0 && now.Sub(e.since) > time.Minute {
				delete(f.byIP, ip)
			}
		}
		if len(f.byIP) < maxFailureEntries {
			return true
		}
	}
	for ip, e := range f.byIP { // map order: an arbitrary one
		if e.pending == 0 {
			delete(f.byIP, ip)
			return true
		}
	}
	return false
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// ReserveAuthentication takes a slot for an authentication that happens
// outside a WAMP session (the HTTP bridge checks a ticket or a signature)
// from the client address addr (host or host:port), under the same
// auth_failures_per_minute as the sessions of that address: false when
// the address is at its limit. Each true is followed by one
// ReleaseAuthentication.
func (r *Router) ReserveAuthentication(addr string) bool {
	ok := r.failures.reserve(remoteIP(addr), r.config().AuthFailureLimit)
	if !ok {
		r.stats.AuthFailures.Add(1)
	}
	return ok
}

// ReleaseAuthentication ends an authentication ReserveAuthentication
// allowed; failed counts it as a failed one.
func (r *Router) ReleaseAuthentication(addr string, failed bool) {
	r.failures.release(remoteIP(addr), failed)
	if failed {
		r.stats.AuthFailures.Add(1)
	}
}
