package router

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// The meta API is served by the router itself, on the caller's goroutine:
// a CALL whose procedure starts with "wamp." is looked up in metaProcedures
// before the dealer, so ordinary calls pay one prefix check. Meta events are
// published into the realm's broker like any event, and cost a table lookup
// when nobody subscribes to them.

// metaProc answers a meta procedure call.
type metaProc func(s *session, args []any, kwargs map[string]any) ([]any, *wamp.RPCError)

var metaProcedures map[wamp.URI]metaProc

func init() {
	metaProcedures = map[wamp.URI]metaProc{
		"wamp.session.count":                  metaSessionCount,
		"wamp.session.list":                   metaSessionList,
		"wamp.session.get":                    metaSessionGet,
		"wamp.session.kill":                   metaSessionKill,
		"wamp.session.kill_by_authid":         metaKillBy(func(s *member, v string) bool { return s.authid == v }, true),
		"wamp.session.kill_by_authrole":       metaKillBy(func(s *member, v string) bool { return s.authrole == v }, false),
		"wamp.session.kill_all":               metaKillAll,
		"wamp.session.add_testament":          metaAddTestament,
		"wamp.session.flush_testaments":       metaFlushTestaments,
		"wamp.registration.list":              metaRegList,
		"wamp.registration.lookup":            metaRegLookup,
		"wamp.registration.match":             metaRegMatch,
		"wamp.registration.get":               metaRegGet,
		"wamp.registration.list_callees":      metaRegCallees(false),
		"wamp.registration.count_callees":     metaRegCallees(true),
		"wamp.subscription.list":              metaSubList,
		"wamp.subscription.lookup":            metaSubLookup,
		"wamp.subscription.match":             metaSubMatch,
		"wamp.subscription.get":               metaSubGet,
		"wamp.subscription.get_events":        metaGetEvents,
		"wamp.subscription.list_subscribers":  metaSubSubscribers(false),
		"wamp.subscription.count_subscribers": metaSubSubscribers(true),
	}
}

// killProcedures end other sessions: they need a grant that names them
// (session.grantedExplicitly), even in a realm without roles.
var killProcedures = map[wamp.URI]bool{
	"wamp.session.kill": true, "wamp.session.kill_by_authid": true,
	"wamp.session.kill_by_authrole": true, "wamp.session.kill_all": true,
}

// callMeta answers m if it calls a meta procedure; false if it does not.
func (s *session) callMeta(m *wamp.Call) bool {
	if !strings.HasPrefix(string(m.Procedure), "wamp.") {
		return false
	}
	proc, ok := metaProcedures[m.Procedure]
	if !ok {
		return false
	}
	args, kwargs, err := serializers.DecodePayload(&m.Payload)
	if err != nil {
		s.sendError(wamp.CALL, m.Request, wamp.ErrInvalidArgument, "cannot decode arguments: "+err.Error())
		return true
	}
	res, rerr := proc(s, args, kwargs)
	if rerr != nil {
		_ = s.send(&wamp.Error{Type: wamp.CALL, Request: m.Request, Details: wamp.Dict{}, Error: rerr.URI, Payload: wamp.Values(rerr.Args, nil)})
		return true
	}
	if err := s.send(&wamp.Result{Request: m.Request, Details: wamp.Dict{}, Payload: wamp.Values(res, nil)}); tooLarge(err) {
		s.sendError(wamp.CALL, m.Request, wamp.ErrPayloadSizeExceeded, "the result is larger than your transport accepts: "+err.Error())
	}
	return true
}

func invalidArg(format string, a ...any) *wamp.RPCError {
	return wamp.NewError(wamp.ErrInvalidArgument, fmt.Sprintf(format, a...))
}

// argID reads args[i] as an id.
func argID(args []any, i int, what string) (wamp.ID, *wamp.RPCError) {
	if i >= len(args) {
		return 0, invalidArg("missing argument %d: %s", i+1, what)
	}
	id, ok := wamp.AsID(args[i])
	if !ok {
		return 0, invalidArg("argument %d (%s) must be an id, got %v", i+1, what, args[i])
	}
	return id, nil
}

// argString reads args[i] as a string.
func argString(args []any, i int, what string) (string, *wamp.RPCError) {
	if i >= len(args) {
		return "", invalidArg("missing argument %d: %s", i+1, what)
	}
	v, ok := args[i].(string)
	if !ok {
		return "", invalidArg("argument %d (%s) must be a string, got %v", i+1, what, args[i])
	}
	return v, nil
}

// sessionInfo is the session details of on_join and wamp.session.get.
func (s *member) sessionInfo() wamp.Dict {
	info := s.peer.Info()
	return wamp.Dict{
		"session": uint64(s.id), "authid": s.authid, "authrole": s.authrole,
		"authmethod": s.authmethod, "authprovider": s.authprovider,
		"transport": wamp.Dict{"type": cmp.Or(info.Transport, "websocket"), "protocol": info.Subprotocol, "peer": info.RemoteAddr},
	}
}

// realmSessions returns the sessions of s's realm, filtered by authrole if
// args[0] is a list of roles.
func realmSessions(s *session, args []any) ([]*member, *wamp.RPCError) {
	var roles map[string]bool
	if len(args) > 0 && args[0] != nil {
		list, ok := args[0].([]any)
		if !ok {
			return nil, invalidArg("filter_authroles must be a list of strings")
		}
		roles = map[string]bool{}
		for _, r := range list {
			name, _ := r.(string)
			roles[name] = true
		}
	}
	var out []*member
	for _, rc := range s.realm.Sessions() {
		if other := rc.(recipient).base(); roles == nil || roles[other.authrole] {
			out = append(out, other)
		}
	}
	return out, nil
}

func metaSessionCount(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	all, err := realmSessions(s, args)
	return []any{len(all)}, err
}

func metaSessionList(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	all, err := realmSessions(s, args)
	ids := make([]any, len(all))
	for i, o := range all {
		ids[i] = uint64(o.id)
	}
	return []any{ids}, err
}

func metaSessionGet(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	id, err := argID(args, 0, "session")
	if err != nil {
		return nil, err
	}
	other, ok := s.realm.Session(id)
	if !ok {
		return nil, wamp.NewError(wamp.ErrNoSuchSession, fmt.Sprintf("no session %d in this realm", id))
	}
	return []any{other.(recipient).base().sessionInfo()}, nil
}

// killReason reads the reason and message keyword arguments of the kill procedures.
func (s *session) killReason(kwargs map[string]any) (wamp.URI, string, *wamp.RPCError) {
	reason := wamp.CloseKilled
	if v, ok := kwargs["reason"]; ok {
		str, _ := v.(string)
		if !wamp.ValidURI(wamp.URI(str), false, false) {
			return "", "", wamp.NewError(wamp.ErrInvalidURI, fmt.Sprintf("invalid reason %v", v))
		}
		reason = wamp.URI(str)
	}
	message, _ := kwargs["message"].(string)
	return reason, message, nil
}

func metaSessionKill(s *session, args []any, kwargs map[string]any) ([]any, *wamp.RPCError) {
	id, err := argID(args, 0, "session")
	if err != nil {
		return nil, err
	}
	reason, message, err := s.killReason(kwargs)
	if err != nil {
		return nil, err
	}
	other, ok := s.realm.Session(id)
	if !ok || id == s.id {
		return nil, wamp.NewError(wamp.ErrNoSuchSession, fmt.Sprintf("no other session %d in this realm", id))
	}
	other.(recipient).kill(reason, message)
	return nil, nil
}

func metaKillBy(match func(*member, string) bool, listIDs bool) metaProc {
	return func(s *session, args []any, kwargs map[string]any) ([]any, *wamp.RPCError) {
		v, err := argString(args, 0, "authid or authrole")
		if err != nil {
			return nil, err
		}
		reason, message, err := s.killReason(kwargs)
		if err != nil {
			return nil, err
		}
		killed := []any{}
		for _, rc := range s.realm.Sessions() {
			if other := rc.(recipient); other != recipient(s) && match(other.base(), v) {
				other.kill(reason, message)
				killed = append(killed, uint64(other.SessionID()))
			}
		}
		if listIDs {
			return []any{killed}, nil
		}
		return []any{len(killed)}, nil
	}
}

func metaKillAll(s *session, _ []any, kwargs map[string]any) ([]any, *wamp.RPCError) {
	reason, message, err := s.killReason(kwargs)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, rc := range s.realm.Sessions() {
		if other := rc.(recipient); other != recipient(s) {
			other.kill(reason, message)
			n++
		}
	}
	return []any{n}, nil
}

// kill ends a session on behalf of the meta API: GOODBYE with reason, then close.
func (s *session) kill(reason wamp.URI, message string) {
	s.goodbyeSent.Store(true)
	s.member.kill(reason, message)
}

// kill ends a session on behalf of the meta API: GOODBYE with reason, then
// close (on its node, for a proxy).
func (s *member) kill(reason wamp.URI, message string) {
	details := wamp.Dict{}
	if message != "" {
		details["message"] = message
	}
	_ = s.send(&wamp.Goodbye{Details: details, Reason: reason})
	s.peer.Close(transport.CloseNormal, "killed: "+string(reason))
}

// testament is an event a session asked to be published when it goes away.
type testament struct {
	topic   wamp.URI
	args    []any
	kwargs  map[string]any
	options wamp.Dict
	size    int // encoded, what router.max_testament_bytes_per_session counts
}

func testamentScope(kwargs map[string]any) (string, *wamp.RPCError) {
	scope, _ := kwargs["scope"].(string)
	switch scope {
	case "":
		return "destroyed", nil
	case "destroyed", "detached":
		return scope, nil
	}
	return "", invalidArg(`scope must be "destroyed" or "detached", got %v`, kwargs["scope"])
}

func metaAddTestament(s *session, args []any, kwargs map[string]any) ([]any, *wamp.RPCError) {
	topic, err := argString(args, 0, "topic")
	if err != nil {
		return nil, err
	}
	if !s.validURI(wamp.URI(topic)) || routerTopic(wamp.URI(topic)) {
		return nil, wamp.NewError(wamp.ErrInvalidURI, fmt.Sprintf("invalid topic URI %q (wamp.* and junction.cluster.* events come from the router)", clip(topic)))
	}
	if ok, _ := s.authorize(ActionPublish, wamp.CALL, 0, wamp.URI(topic), "", false); !ok {
		return nil, wamp.NewError(wamp.ErrNotAuthorized, fmt.Sprintf("role %q may not publish to %q", s.authrole, topic))
	}
	scope, err := testamentScope(kwargs)
	if err != nil {
		return nil, err
	}
	t := testament{topic: wamp.URI(topic), options: wamp.AsDict(kwargs["publish_options"])}
	if len(args) > 1 {
		t.args, _ = args[1].([]any)
	}
	if len(args) > 2 {
		t.kwargs = wamp.AsDict(args[2])
	}
	encoded, eerr := serializers.EncodePayload(s.encoding, []any{t.args, t.kwargs, map[string]any(t.options)}, nil)
	if eerr != nil {
		return nil, invalidArg("cannot keep this testament: %v", eerr)
	}
	t.size = encoded.Size() + len(t.topic)
	if err := s.keepTestament(scope, t); err != nil {
		return nil, err
	}
	s.r.cluster().testament(s, scope, t)
	return nil, nil
}

func metaFlushTestaments(s *session, _ []any, kwargs map[string]any) ([]any, *wamp.RPCError) {
	scope, err := testamentScope(kwargs)
	if err != nil {
		return nil, err
	}
	s.testMu.Lock()
	released := 0
	for _, t := range s.testaments[scope] {
		released += t.size
	}
	s.testBytes -= released
	delete(s.testaments, scope)
	s.testMu.Unlock()
	s.countTestamentBytes(-released)
	s.r.cluster().flushed(s, scope)
	return nil, nil
}

// keepTestament adds t to s's testaments of scope, within the bounds on
// their number and size.
func (s *session) keepTestament(scope string, t testament) *wamp.RPCError {
	s.testMu.Lock()
	defer s.testMu.Unlock()
	n := 0
	for _, ts := range s.testaments {
		n += len(ts)
	}
	var why string
	limit := LimitTestaments
	switch {
	case n >= s.r.config().MaxTestamentsPerSession:
		why = fmt.Sprintf("a session may leave at most %d testaments", s.r.config().MaxTestamentsPerSession)
	case s.testBytes+t.size > s.r.config().MaxTestamentBytesPerSession:
		limit = LimitTestamentBytes
		why = fmt.Sprintf("a session's testaments may hold at most %d bytes, and this one needs %d more than the %d held",
			s.r.config().MaxTestamentBytesPerSession, t.size, s.testBytes)
	case s.budget != nil && s.budget.testamentBytes.Load()+int64(t.size) > int64(s.r.config().MaxTestamentBytesPerAddress):
		limit = LimitTestamentBytesPerAddress
		why = fmt.Sprintf("the sessions of %s may hold at most %d bytes of testaments together", s.address, s.r.config().MaxTestamentBytesPerAddress)
	}
	if why != "" {
		s.limitReached(limit, why)
		return wamp.NewError(ErrLimitExceeded, why+" ("+limit.String()+")")
	}
	s.testaments[scope] = append(s.testaments[scope], t)
	s.testBytes += t.size
	s.countTestamentBytes(t.size)
	return nil
}

// publishTestaments publishes the testaments of a session that is going
// away: detached scope first, then destroyed, each in the order added.
func (s *session) publishTestaments() {
	all, released := s.takeTestaments()
	s.countTestamentBytes(-released)
	s.publishAll(all)
}

// takeTestaments takes s's testaments, and the bytes they held.
func (s *member) takeTestaments() (map[string][]testament, int) {
	s.testMu.Lock()
	defer s.testMu.Unlock()
	all, released := s.testaments, s.testBytes
	s.testaments, s.testBytes = nil, 0
	return all, released
}

// publishAll publishes testaments of s, detached ones first.
func (s *member) publishAll(all map[string][]testament) {
	for _, scope := range []string{"detached", "destroyed"} {
		for _, t := range all[scope] {
			o := options{d: t.options, msg: wamp.PUBLISH}
			aud := audience{
				publisher: s, excludeMe: true,
				exclude: o.ids("exclude"), eligible: o.ids("eligible"),
				excludeAuthID: o.strs("exclude_authid"), eligibleAuthID: o.strs("eligible_authid"),
				excludeAuthRole: o.strs("exclude_authrole"), eligibleAuthRole: o.strs("eligible_authrole"),
			}
			s.realm.publish(&publication{id: wamp.GlobalID(), publisher: &s.identity, topic: t.topic, payload: wamp.Values(t.args, t.kwargs),
				aud: aud, disclose: o.boolean(wamp.OptDiscloseMe, false), retain: o.boolean("retain", false)}, nil)
		}
	}
}

// metaEvent publishes a router event on a wamp.* topic of the realm.
func (rm *realm) metaEvent(topic wamp.URI, args ...any) {
	rm.publish(&publication{id: wamp.GlobalID(), topic: topic, payload: wamp.Values(args, nil)}, nil)
}

func registrationDetails(r *realms.Registration) wamp.Dict {
	return wamp.Dict{"id": uint64(r.ID), "created": r.Created.UTC().Format(time.RFC3339Nano), "uri": string(r.Procedure), "match": string(r.Match), "invoke": string(r.Invoke)}
}

func subscriptionDetails(sub *realms.Subscription) wamp.Dict {
	return wamp.Dict{"id": uint64(sub.ID), "created": sub.Created.UTC().Format(time.RFC3339Nano), "uri": string(sub.Topic), "match": string(sub.Match)}
}

func byMatch[T any](all []T, match func(T) wamp.MatchPolicy, id func(T) wamp.ID) wamp.Dict {
	lists := map[wamp.MatchPolicy][]any{wamp.MatchExact: {}, wamp.MatchPrefix: {}, wamp.MatchWildcard: {}}
	for _, x := range all {
		lists[match(x)] = append(lists[match(x)], uint64(id(x)))
	}
	return wamp.Dict{"exact": lists[wamp.MatchExact], "prefix": lists[wamp.MatchPrefix], "wildcard": lists[wamp.MatchWildcard]}
}

func metaRegList(s *session, _ []any, _ map[string]any) ([]any, *wamp.RPCError) {
	return []any{byMatch(s.realm.Dealer.All(), func(r *realms.Registration) wamp.MatchPolicy { return r.Match }, func(r *realms.Registration) wamp.ID { return r.ID })}, nil
}

func lookupMatch(args []any) wamp.MatchPolicy {
	if len(args) > 1 {
		m, _ := wamp.AsDict(args[1])["match"].(string)
		return wamp.MatchPolicy(m)
	}
	return ""
}

func metaRegLookup(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	uri, err := argString(args, 0, "procedure")
	if err != nil {
		return nil, err
	}
	if reg := s.realm.Dealer.Lookup(wamp.URI(uri), lookupMatch(args)); reg != nil {
		return []any{uint64(reg.ID)}, nil
	}
	return []any{nil}, nil
}

func metaRegMatch(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	uri, err := argString(args, 0, "procedure")
	if err != nil {
		return nil, err
	}
	if reg := s.realm.Dealer.Match(wamp.URI(uri)); reg != nil {
		return []any{uint64(reg.ID)}, nil
	}
	return []any{nil}, nil
}

func metaRegGet(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	id, err := argID(args, 0, "registration")
	if err != nil {
		return nil, err
	}
	reg := s.realm.Dealer.Get(id)
	if reg == nil {
		return nil, wamp.NewError(wamp.ErrNoSuchRegistration, fmt.Sprintf("no registration %d", id))
	}
	return []any{registrationDetails(reg)}, nil
}

func metaRegCallees(count bool) metaProc {
	return func(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
		id, err := argID(args, 0, "registration")
		if err != nil {
			return nil, err
		}
		reg := s.realm.Dealer.Get(id)
		if reg == nil {
			return nil, wamp.NewError(wamp.ErrNoSuchRegistration, fmt.Sprintf("no registration %d", id))
		}
		if count {
			return []any{len(reg.Callees)}, nil
		}
		return []any{recipientIDs(reg.Callees)}, nil
	}
}

func recipientIDs(rs []realms.Recipient) []any {
	ids := make([]any, len(rs))
	for i, r := range rs {
		ids[i] = uint64(r.SessionID())
	}
	return ids
}

// subscriberIDs is recipientIDs for the chunked set of a subscription.
func subscriberIDs(rs realms.Recipients) []any {
	ids := make([]any, 0, rs.Len())
	for r := range rs.All() {
		ids = append(ids, uint64(r.SessionID()))
	}
	return ids
}

func metaSubList(s *session, _ []any, _ map[string]any) ([]any, *wamp.RPCError) {
	return []any{byMatch(s.realm.Broker.All(), func(x *realms.Subscription) wamp.MatchPolicy { return x.Match }, func(x *realms.Subscription) wamp.ID { return x.ID })}, nil
}

func metaSubLookup(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	uri, err := argString(args, 0, "topic")
	if err != nil {
		return nil, err
	}
	if sub := s.realm.Broker.Lookup(wamp.URI(uri), lookupMatch(args)); sub != nil {
		return []any{uint64(sub.ID)}, nil
	}
	return []any{nil}, nil
}

func metaSubMatch(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	uri, err := argString(args, 0, "topic")
	if err != nil {
		return nil, err
	}
	subs := s.realm.Broker.Match(nil, wamp.URI(uri))
	if len(subs) == 0 {
		return []any{nil}, nil
	}
	ids := make([]any, len(subs))
	for i, sub := range subs {
		ids[i] = uint64(sub.ID)
	}
	return []any{ids}, nil
}

func metaSubGet(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	sub := s.realm.Broker.Get(id)
	if sub == nil {
		return nil, wamp.NewError(wamp.ErrNoSuchSubscription, fmt.Sprintf("no subscription %d", id))
	}
	return []any{subscriptionDetails(sub)}, nil
}

func metaSubSubscribers(count bool) metaProc {
	return func(s *session, args []any, _ map[string]any) ([]any, *wamp.RPCError) {
		id, err := argID(args, 0, "subscription")
		if err != nil {
			return nil, err
		}
		sub := s.realm.Broker.Get(id)
		if sub == nil {
			return nil, wamp.NewError(wamp.ErrNoSuchSubscription, fmt.Sprintf("no subscription %d", id))
		}
		if count {
			return []any{sub.Subscribers.Len()}, nil
		}
		return []any{subscriberIDs(sub.Subscribers)}, nil
	}
}
