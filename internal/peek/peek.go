// Package peek lets tests in other packages read router state that is no
// part of the router's API: package router fills in the functions when it is
// initialised, and internal/clustertest wraps them with typed helpers. The
// functions take the *router.Router as an any because this package cannot
// import router (router imports it).
package peek

var (
	// RemoteInterest reports whether a session of another node subscribed
	// to a topic matching topic in realm.
	RemoteInterest func(router any, realm, topic string) bool
	// RemoteCallees is the number of remote callees of procedure's
	// registration in realm as the router routes it.
	RemoteCallees func(router any, realm, procedure string) int
	// RemoteRegistrations is the number of registrations of realm with a
	// callee on another node.
	RemoteRegistrations func(router any, realm string) int
	// DrainingNodes is the number of other nodes known alive that
	// announced they drain.
	DrainingNodes func(router any) int
)
