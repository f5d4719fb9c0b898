// Package webhook is the outbound half of Junction's HTTP bridge: WAMP
// subscriptions whose events are POSTed to HTTP endpoints (subscriber
// webhooks) and WAMP procedures implemented by HTTP endpoints (callee
// webhooks).
//
// Each webhook is an ordinary WAMP session of its realm, joined in-process
// (clientlib.ConnectLocal) with the authid and ticket its entry names, or
// anonymously: the realm's authentication and role rules decide whether it
// may subscribe or register, exactly as for any other session. A Set runs
// the webhooks of a Config; Apply changes them while they run, Shutdown
// stops them.
//
// What a failing or hostile HTTP endpoint can make the router hold is
// bounded: each subscriber webhook has its own queue, bounded in events and
// bytes, filled without blocking by the session's event handler (an
// overflow is dropped, counted and logged, never silent); every request
// has a timeout, a response is read up to a size limit, redirects are not
// followed, and each callee webhook runs at most MaxConcurrent requests at
// once (a call beyond is answered junction.error.bridge.busy at once).
package webhook
