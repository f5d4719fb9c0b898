package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// Disclosure is a realm's setting for disclosing the identity of callers to
// callees (RealmConfig.DiscloseCaller) or of publishers to subscribers
// (DisclosePublisher).
type Disclosure string

// Disclosure settings of a realm for callers and publishers. Any value other
// than DiscloseAlways and DiscloseNever (such as "request") is read as
// DiscloseOnRequest.
const (
	DiscloseOnRequest Disclosure = "" // disclose when the caller or publisher asks (disclose_me)
	DiscloseAlways    Disclosure = "always"
	DiscloseNever     Disclosure = "never"
)

// patternURI checks a topic or procedure URI of SUBSCRIBE or REGISTER:
// wildcard and prefix patterns may have empty components.
func (s *session) patternURI(u wamp.URI, match wamp.MatchPolicy) bool {
	return len(u) <= s.r.config().MaxURILength && wamp.ValidURI(u, s.r.config().StrictURI, match.Pattern())
}

func (s *session) handleSubscribe(m *wamp.Subscribe) end {
	o := options{d: m.Options, msg: wamp.SUBSCRIBE}
	match := oneOf(&o, wamp.OptMatch, wamp.MatchPolicy.Valid)
	getRetained := o.boolean("get_retained", false)
	o.routerLinks()
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if !s.patternURI(m.Topic, match) {
		s.sendError(wamp.SUBSCRIBE, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid topic URI %q", clip(string(m.Topic))))
		return goOn
	}
	perms := s.perms.Load() // what authorize reads: a reload may replace it meanwhile
	if ok, _ := s.authorize(ActionSubscribe, wamp.SUBSCRIBE, m.Request, m.Topic, match, true); !ok {
		return goOn
	}
	if max := s.r.config().MaxSubscriptionsPerSession; s.realm.Broker.SessionCount(s) >= max {
		s.refuseOverLimit(LimitSubscriptions, wamp.SUBSCRIBE, m.Request, "a session may hold at most %d subscriptions", max)
		return goOn
	}
	if max := s.r.config().MaxSubscriptionsPerAddress; s.overAddress(subscriptionsOf, max) {
		s.refuseOverLimit(LimitSubscriptionsPerAddress, wamp.SUBSCRIBE, m.Request, "the sessions of %s may hold at most %d subscriptions together", s.address, max)
		return goOn
	}
	sub, created := s.realm.Broker.Subscribe(s, m.Topic, match)
	s.syncHeld()
	s.r.cluster().subscribed(s, sub, true)
	_ = s.send(&wamp.Subscribed{Request: m.Request, Subscription: sub.ID})
	if created {
		s.realm.metaEvent("wamp.subscription.on_create", uint64(s.id), subscriptionDetails(sub))
	}
	s.realm.metaEvent("wamp.subscription.on_subscribe", uint64(s.id), uint64(sub.ID))
	if now := s.perms.Load(); now != perms && now != nil {
		// A reload swapped the rules after authorize, perhaps after it
		// revoked what s held: the new rules decide this one too.
		if ok, _ := now.allowsPattern(ActionSubscribe, match.Norm(), m.Topic); !ok {
			s.revokeSubscription(sub)
			return goOn
		}
	}
	if getRetained {
		s.sendRetained(sub)
	}
	return goOn
}

func (s *session) handleUnsubscribe(m *wamp.Unsubscribe) {
	sub, deleted, err := s.realm.Broker.Unsubscribe(s, m.Subscription)
	s.syncHeld()
	if err != nil {
		s.sendError(wamp.UNSUBSCRIBE, m.Request, wamp.ErrNoSuchSubscription,
			fmt.Sprintf("no subscription %d in this session", m.Subscription))
		return
	}
	s.r.cluster().subscribed(s, sub, false)
	_ = s.send(&wamp.Unsubscribed{Request: m.Request})
	s.realm.subscriptionGone(s, m.Subscription, deleted)
}

// subscriptionGone publishes the meta events of s leaving a subscription.
func (rm *realm) subscriptionGone(s *session, id wamp.ID, deleted bool) {
	rm.metaEvent("wamp.subscription.on_unsubscribe", uint64(s.id), uint64(id))
	if deleted {
		rm.metaEvent("wamp.subscription.on_delete", uint64(s.id), uint64(id))
	}
}

// audience is who a publication may reach: the publisher's exclusion and the
// black and white lists of subscriber_blackwhite_listing.
type audience struct {
	publisher                         *member
	excludeMe                         bool
	exclude, eligible                 map[wamp.ID]bool
	excludeAuthID, eligibleAuthID     map[string]bool
	excludeAuthRole, eligibleAuthRole map[string]bool
}

// forLater is the audience kept with a stored event: the publisher is not
// excluded from what it retained (it may subscribe later and ask for it), and
// the lists stay.
func (a audience) forLater() audience {
	a.excludeMe = false
	return a
}

func (a *audience) admits(to *session) bool {
	switch {
	case a.excludeMe && &to.member == a.publisher:
		return false
	case a.exclude != nil && a.exclude[to.id],
		a.excludeAuthID != nil && a.excludeAuthID[to.authid],
		a.excludeAuthRole != nil && a.excludeAuthRole[to.authrole]:
		return false
	case a.eligible != nil && !a.eligible[to.id],
		a.eligibleAuthID != nil && !a.eligibleAuthID[to.authid],
		a.eligibleAuthRole != nil && !a.eligibleAuthRole[to.authrole]:
		return false
	}
	return true
}

// handlePublish delivers an event to the subscribers of every subscription
// matching the topic. The event is encoded once per subscription and
// serializer in use among its subscribers, and the same frame is queued to
// each: the payload is never decoded, and compressed once if at all.
func (s *session) handlePublish(m *wamp.Publish) end {
	o := options{d: m.Options, msg: wamp.PUBLISH}
	ack := o.boolean(wamp.OptAcknowledge, false)
	aud := audience{
		publisher:        &s.member,
		excludeMe:        o.boolean(wamp.OptExcludeMe, true),
		exclude:          o.ids("exclude"),
		eligible:         o.ids("eligible"),
		excludeAuthID:    o.strs("exclude_authid"),
		eligibleAuthID:   o.strs("eligible_authid"),
		excludeAuthRole:  o.strs("exclude_authrole"),
		eligibleAuthRole: o.strs("eligible_authrole"),
	}
	disclose := o.boolean(wamp.OptDiscloseMe, false)
	retain := o.boolean("retain", false)
	o.passthru()
	o.routerLinks()
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if !s.validURI(m.Topic) {
		s.refusePublish(ack, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid topic URI %q", clip(string(m.Topic))))
		return goOn
	}
	if routerTopic(m.Topic) {
		s.refusePublish(ack, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("topic %q is reserved: wamp.* and junction.cluster.* events come from the router", clip(string(m.Topic))))
		return goOn
	}
	allowed, perm := s.authorize(ActionPublish, wamp.PUBLISH, m.Request, m.Topic, "", ack)
	if !allowed {
		return goOn
	}
	switch s.realm.conf().cfg.DisclosePublisher {
	case DiscloseAlways:
		disclose = true
	case DiscloseNever:
		if disclose {
			s.refusePublish(ack, m.Request, "wamp.error.option_disallowed.disclose_me", "this realm does not disclose publishers")
			return goOn
		}
	default:
		disclose = disclose || perm != nil && perm.DisclosePublisher
	}
	pub := wamp.GlobalID()
	if err := s.realm.events.record(&storedEvent{publication: pub, topic: m.Topic, time: time.Now(), payload: m.Payload,
		publisher: &s.identity, disclose: disclose, aud: aud.forLater()}, retain); err != nil {
		var full *retainedFull
		if errors.As(err, &full) {
			s.limitReached(full.limit, err.Error())
		}
		s.refusePublish(ack, m.Request, ErrLimitExceeded, err.Error())
		return goOn
	}
	var published func(undelivered)
	if ack { // no closure for a plain publication
		published = func(failed undelivered) { s.published(ack, m.Request, pub, failed) }
	}
	p := publication{id: pub, publisher: &s.identity, topic: m.Topic, payload: m.Payload, aud: aud, disclose: disclose, retain: retain}
	if failed := s.realm.publish(&p, published); failed.any() && !ack {
		s.published(ack, m.Request, pub, failed)
	}
	return goOn
}

// undelivered counts the subscribers a publication could not be queued to:
// their serializer cannot carry its payload, or it is larger than their
// transport accepts (a RawSocket client's maximum).
type undelivered struct{ unconverted, tooLarge int }

func (u undelivered) any() bool { return u.unconverted > 0 || u.tooLarge > 0 }

func (u *undelivered) add(v undelivered) {
	u.unconverted += v.unconverted
	u.tooLarge += v.tooLarge
}

// published answers an acknowledged PUBLISH once it is delivered: PUBLISHED,
// or, when some subscribers could not receive it (the others did), ERROR
// wamp.error.payload_size_exceeded if it was too large for some of them,
// else wamp.error.invalid_argument (their serializer cannot carry its
// payload). Without acknowledgement such a failure is only logged, and
// counted.
func (s *session) published(ack bool, request, pub wamp.ID, failed undelivered) {
	if failed.any() {
		if ok, held := s.r.warnings.Allow("undelivered " + s.address); ok {
			s.logger().Warn("publication not delivered to subscribers that cannot take it",
				"unconvertible", failed.unconverted, "too_large", failed.tooLarge, "acknowledged", ack, "held_back", held)
		}
	}
	switch {
	case !ack:
	case failed.tooLarge > 0:
		s.sendError(wamp.PUBLISH, request, wamp.ErrPayloadSizeExceeded, fmt.Sprintf(
			"publication %d reached the subscribers that could take it, but not %d whose transport takes no message that large (and %d whose serializer cannot carry its payload)",
			pub, failed.tooLarge, failed.unconverted))
	case failed.unconverted > 0:
		s.sendError(wamp.PUBLISH, request, wamp.ErrInvalidArgument, fmt.Sprintf(
			"publication %d reached the subscribers that could take it, but not %d whose serializer cannot carry its payload", pub, failed.unconverted))
	default:
		_ = s.send(&wamp.Published{Request: request, Publication: pub})
	}
}

// refusePublish answers a PUBLISH that cannot be routed: with ERROR when the
// publisher asked for acknowledgement, else only in the log, as the spec says.
func (s *session) refusePublish(ack bool, request wamp.ID, uri wamp.URI, message string) {
	if ack {
		s.sendError(wamp.PUBLISH, request, uri, message)
		return
	}
	s.logger().Debug("publication dropped", "error", uri, "message", message)
}

// publication is a publication as the router routes it, to this node's
// subscribers and to the other nodes of a cluster.
type publication struct {
	id        wamp.ID
	publisher *identity // nil for the router's own events
	topic     wamp.URI
	payload   wamp.Payload
	aud       audience
	disclose  bool // the publisher's identity goes in EVENT.Details
	retain    bool // the router keeps it for subscribers to come
}

// publish delivers p to every matching subscription of the realm, here and
// on the other nodes of a cluster. delivered, if set, is called once it is queued to
// every subscriber: at once on a single node, when the other nodes confirm
// in a cluster (from another goroutine), with the number of this node's
// subscribers whose serializer could not carry the payload (another node
// counts and logs its own). It returns that number too.
func (rm *realm) publish(p *publication, delivered func(failed undelivered)) undelivered {
	var nodes []string // the other nodes with a subscriber to the topic, found by the same match
	failed := rm.deliver(p, &nodes)
	rm.cluster().forwardPublish(rm, nodes, *p, failed, delivered)
	return failed
}

// deliver delivers p to this node's subscribers, and returns
// how many could not receive it because their serializer cannot carry its
// payload. With nodes set, it appends the cluster nodes of the remote
// subscribers it passes.
func (rm *realm) deliver(p *publication, nodes *[]string) undelivered {
	var buf [4]*realms.Subscription
	var failed undelivered
	for _, sub := range rm.Broker.Match(buf[:0], p.topic) {
		ev := &wamp.Event{Subscription: sub.ID, Publication: p.id, Details: eventDetails(p.publisher, sub, p.topic, p.disclose), Payload: p.payload}
		failed.add(rm.fanout(ev, sub.Subscribers, &p.aud, nodes))
	}
	return failed
}

// eventDetails returns EVENT.Details; nil (encoded as {}) for a plain event.
func eventDetails(publisher *identity, sub *realms.Subscription, topic wamp.URI, disclose bool) wamp.Dict {
	var d lazyDict
	if sub.Match != wamp.MatchExact {
		d.set("topic", string(topic))
	}
	if disclose && publisher != nil {
		d.set("publisher", uint64(publisher.id))
		d.set("publisher_authid", publisher.authid)
		d.set("publisher_authrole", publisher.authrole)
	}
	return d.d
}

// fanout queues ev to every local recipient the audience admits, and
// returns how many it could not because their serializer cannot carry the
// payload or their transport takes no message that large. A remote one's
// node delivers to it: with nodes set, that node is appended there.
func (rm *realm) fanout(ev *wamp.Event, recipients realms.Recipients, aud *audience, nodes *[]string) undelivered {
	var frames [4]*transport.Frame // by wamp.Encoding
	var failed [4]bool
	var sent uint64
	unconverted, tooLarge := 0, 0
	for c := range recipients.NumChunks() { // by chunk: no allocation, no call per recipient
		for _, rc := range recipients.Chunk(c) {
			to, local := rc.(*session)
			if !local { // a proxy
				if node := rc.(*proxy).node; nodes != nil && !slices.Contains(*nodes, node) {
					*nodes = append(*nodes, node)
				}
				continue
			}
			if !aud.admits(to) {
				continue
			}
			f := frames[to.encoding]
			if f == nil {
				if failed[to.encoding] {
					unconverted++
					continue
				}
				data, err := to.peer.Serializer().Encode(ev)
				if err != nil {
					failed[to.encoding] = true
					unconverted++
					rm.log.Debug("event cannot be encoded for subscribers", "serializer", to.peer.Serializer().Name(),
						"subscription", uint64(ev.Subscription), "error", err)
					continue
				}
				f = transport.NewFrame(data, to.binary)
				frames[to.encoding] = f
			}
			// Any other error means the subscriber is closing; the
			// transport logged why.
			switch err := to.peer.SendFrame(f); {
			case err == nil:
				sent++
			case errors.Is(err, transport.ErrTooLarge):
				tooLarge++
			}
		}
	}
	rm.stats.MessagesOut.add(wamp.EVENT, sent)
	rm.stats.ConversionFailures.Add(uint64(unconverted))
	rm.stats.TooLarge.Add(uint64(tooLarge))
	return undelivered{unconverted: unconverted, tooLarge: tooLarge}
}

// routerTopic reports whether only the router publishes to topic: the
// spec's wamp.* and Junction's junction.cluster.* (on_rejoin), so that
// a client cannot forge them, by PUBLISH or by testament.
func routerTopic(topic wamp.URI) bool {
	return wamp.Reserved(topic) || strings.HasPrefix(string(topic), "junction.cluster.")
}
