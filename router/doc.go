// Package router is Junction's WAMP router: it runs each session's lifecycle
// (HELLO -> WELCOME ... GOODBYE) and dispatches each message the session sends
// to its realm's broker or dealer.
//
// A session's messages are handled on the goroutine that read them (the
// transport's read pump): decode, check, look the recipients up in the realm,
// and queue the outgoing message on each recipient's peer. There is no actor
// goroutine per realm, broker or dealer, and no lock is held while sending.
//
// Router.Reload applies a new Config to a running router (reload.go): the
// router config and each realm's compiled settings are swapped with atomic
// stores that the hot path reads with atomic loads, then every session is
// brought in line (ended, or given its role's new rules, with what they no
// longer grant revoked).
package router
