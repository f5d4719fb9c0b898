package router

import "github.com/junction-wamp/junction/internal/peek"

// Tests of other packages (the cluster's) read the cluster state of a router
// through internal/peek; none of it is exported.
func init() {
	peek.RemoteInterest = func(r any, realm, topic string) bool { return r.(*Router).remoteInterest(realm, topic) }
	peek.RemoteCallees = func(r any, realm, procedure string) int { return r.(*Router).remoteCallees(realm, procedure) }
	peek.RemoteRegistrations = func(r any, realm string) int { return r.(*Router).remoteRegistrations(realm) }
	peek.DrainingNodes = func(r any) int { return r.(*Router).drainingNodes() }
}
