// Package realms holds the routing state of each realm: its sessions, the
// broker's subscriptions and the dealer's registrations. It does no I/O: the
// router asks it who should receive a message and does the sending itself.
//
// The tables are read on every PUBLISH and CALL and written only on
// (un)subscribe, (un)register and session leave, so each is guarded by a
// sync.RWMutex held only to look up or update: a map for exact URIs, and a
// trie by URI component for prefix and wildcard patterns, walked under the
// read lock over only the nodes compatible with the URI (pattern.go). The
// recipient lists are copy-on-write slices: a reader takes the slice under
// the read lock and iterates it after unlocking, while a writer replaces the
// slice instead of mutating it. Lock order: a Realm's locks are leaves; none
// is held while another is taken, and none is held while sending.
package realms
