package wamp

// MatchPolicy is how the URI of a SUBSCRIBE or REGISTER matches the URIs of
// publications or calls: its "match" option. "" means MatchExact.
type MatchPolicy string

// Match policies of SUBSCRIBE and REGISTER.
const (
	MatchExact    MatchPolicy = "exact"
	MatchPrefix   MatchPolicy = "prefix"
	MatchWildcard MatchPolicy = "wildcard"
)

// Valid reports whether m is a match policy ("" means exact).
func (m MatchPolicy) Valid() bool {
	return m == "" || m == MatchExact || m == MatchPrefix || m == MatchWildcard
}

// Norm is m with "" read as MatchExact.
func (m MatchPolicy) Norm() MatchPolicy {
	if m == "" {
		return MatchExact
	}
	return m
}

// Pattern reports whether m is a pattern policy (prefix or wildcard), under
// which a URI may have empty components.
func (m MatchPolicy) Pattern() bool { return m == MatchPrefix || m == MatchWildcard }

// InvokePolicy is how a call picks among the callees of a shared
// registration: the "invoke" option of REGISTER. "" means InvokeSingle.
type InvokePolicy string

// Invocation policies of shared registrations.
const (
	InvokeSingle     InvokePolicy = "single"
	InvokeRoundRobin InvokePolicy = "roundrobin"
	InvokeRandom     InvokePolicy = "random"
	InvokeFirst      InvokePolicy = "first"
	InvokeLast       InvokePolicy = "last"
)

// Valid reports whether p is an invocation policy ("" means single).
func (p InvokePolicy) Valid() bool {
	return p == "" || p == InvokeSingle || p == InvokeRoundRobin || p == InvokeRandom || p == InvokeFirst || p == InvokeLast
}
