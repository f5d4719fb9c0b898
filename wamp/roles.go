package wamp

// Roles a peer announces in HELLO.Details.roles and a router in WELCOME.Details.roles.
const (
	RoleBroker     = "broker"
	RoleDealer     = "dealer"
	RolePublisher  = "publisher"
	RoleSubscriber = "subscriber"
	RoleCaller     = "caller"
	RoleCallee     = "callee"
)

// Option and detail keys the router reads or writes.
const (
	OptAcknowledge = "acknowledge"
	OptExcludeMe   = "exclude_me"
	OptDiscloseMe  = "disclose_me"
	OptMatch       = "match"
	OptInvoke      = "invoke"
)
