package router

import "github.com/junction-wamp/junction/wamp"

// KeyDerivations is how many WAMP-CRA key derivations (PBKDF2) realm ran
// while authenticating, for tests in package router_test.
func KeyDerivations(r *Router, realm string) uint64 {
	return r.realm(wamp.URI(realm)).conf().auth.derivations.Load()
}
