// Package router is Junction's WAMP router: it runs each session's lifecycle
// (HELLO -> WELCOME ... GOODBYE) and dispatches each message the session sends
// to its realm's broker or dealer.
//
// A session's messages are handled on the goroutine that read them (the
// transport's read pump): decode, check, look the recipients up in the realm,
// and queue the outgoing message on each recipient's peer. There is no actor
// goroutine per realm, broker or dealer, and no lock is held while sending.
package router
