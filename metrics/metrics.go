// Package metrics exports Junction's counters in the Prometheus text format.
//
// Nothing here runs on the routing path: the router and the transport keep
// atomic counters and a lock-free latency histogram, and the collector reads
// them when /metrics is scraped. A scrape takes the session set's lock and
// the connection set's lock once each, to count sessions by realm and
// serializer and to read queue high-water marks.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/buildinfo"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// Handler serves the metrics of r, of the build build, of the listeners
// whose stats conns are (nil if none is limited), of the cluster links links
// reads (nil on a single node: then no junction_cluster_* series) and of the
// transports ts, plus the Go runtime's and the process's, for Prometheus to
// scrape.
func Handler(r *router.Router, build buildinfo.Info, conns *transport.ListenerStats, links LinkSource, ts ...transport.Metered) http.Handler {
	return HandlerWith(nil, r, build, conns, links, ts...)
}

// HandlerWith is Handler with the collectors extra registered beside (the
// HTTP bridge's, packages bridge and bridge/webhook).
func HandlerWith(extra []prometheus.Collector, r *router.Router, build buildinfo.Info, conns *transport.ListenerStats, links LinkSource, ts ...transport.Metered) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&Collector{r: r, ts: ts, conns: conns, links: links},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "junction_build_info",
			Help:        "Always 1; its labels say which build runs: module version, VCS revision (\"\" when not recorded), Go version.",
			ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Revision, "goversion": build.GoVersion},
		}, func() float64 { return 1 }),
	)
	reg.MustRegister(extra...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Collector reads a router's, its transports' and its listeners' counters
// at scrape time.
type Collector struct {
	r     *router.Router
	ts    []transport.Metered
	conns *transport.ListenerStats // nil: no limited listener
	links LinkSource               // nil: not a cluster node
}

// LinkSource returns the counts of a cluster node's links, ok false while
// the router is not (yet) a node of a cluster.
type LinkSource func() (stats cluster.LinkStats, ok bool)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("junction_"+name, help, labels, nil)
}

var (
	descSessions       = desc("sessions", "Established WAMP sessions.", "realm", "serializer", "transport")
	descJoined         = desc("sessions_joined_total", "Sessions that completed the handshake.")
	descLeft           = desc("sessions_left_total", "Sessions that ended after joining.")
	descAborted        = desc("sessions_aborted_total", "Handshakes answered with ABORT.")
	descAuthFailures   = desc("auth_failures_total", "Failed authentications.")
	descProtocolErrors = desc("protocol_errors_total", "Sessions closed for a protocol violation.")
	descInternalErrors = desc("internal_errors_total", "Sessions closed by an internal error.")
	descRegistrations  = desc("registrations", "Registrations of procedures, by realm (in a cluster, with other nodes' sessions' that this node routes to).", "realm")
	descSubscriptions  = desc("subscriptions", "Subscriptions to topics, by realm (in a cluster, with other nodes' sessions' that this node routes to).", "realm")
	descMessagesIn     = desc("messages_in_total", "WAMP messages received from peers, by type: the types a router receives (another type is a protocol error).", "type")
	descMessagesOut    = desc("messages_out_total", "WAMP messages queued to peers, by type: the types a router sends (an event to n subscribers counts n).", "type")
	descCallDuration   = desc("call_duration_seconds", "Time from CALL to its final RESULT or ERROR.")
	descConnections    = desc("connections", "Open connections carrying sessions, by transport.", "transport")
	descAccepted       = desc("handshakes_accepted_total", "Transport handshakes accepted (WebSocket upgrade, RawSocket handshake).", "transport")
	descRefused        = desc("handshakes_refused_total", "Transport handshakes refused (WebSocket: subprotocol, origin, shutdown; RawSocket: serializer, length, reserved bits, connection count, not RawSocket, timeout).", "transport")
	descSlow           = desc("slow_consumer_disconnects_total", "Connections closed because their outbound queue stayed over its bound.", "transport")
	descBytesIn        = desc("received_bytes_total", "Bytes read: WebSocket message payloads, RawSocket frames.", "transport")
	descBytesOut       = desc("sent_bytes_total", "Bytes written: WebSocket message payloads, RawSocket frames.", "transport")
	descQueueMsgs      = desc("queue_high_water_messages", "Deepest outbound queue of any connection since start, in messages.", "transport")
	descQueueBytes     = desc("queue_high_water_bytes", "Deepest outbound queue of any connection since start, in bytes.", "transport")
	descClusterNodes   = desc("cluster_nodes", "Other cluster nodes this node hears from (0 on a single node).")
	descNodesDropped   = desc("cluster_nodes_dropped_total", "Cluster nodes dropped: said goodbye or stayed silent past node_timeout.")
	descResyncs        = desc("cluster_resyncs_total", "Snapshots asked of another node because the digest of its routing state differed from what this node held of it (anti-entropy repairs).")
	descCallsLost      = desc("cluster_calls_lost_total", "Calls whose INVOCATION or answer was lost between nodes, found by an audit: their callers got ERROR wamp.error.canceled.")
	descConflicts      = desc("cluster_registration_conflicts_total", "Registrations of one procedure on two nodes that conflicted (resolved by the smaller registration id, the same way on every node).")
	descFenced         = desc("cluster_sessions_fenced_total", "Sessions of this node closed because the cluster announced them gone while this node was cut off.")
	descLinkRepairs    = desc("cluster_link_repairs_total", "What the links between this node and the others repaired, by kind: resent (NACKs answered), resets (gaps that could not be filled), gaps and duplicates (messages dropped on receipt), overflows (resend buffers over cluster.resend_buffer), stalls (pauses of this process).", "kind")
	descLimits         = desc("limits_reached_total", "Requests and connections refused, or answers cut, because a configured limit was reached, by config key.", "limit")
	descConversions    = desc("conversion_failures_total", "Messages a receiver's serializer could not carry (msgpack's NaN to JSON, for instance); the sender got an ERROR where it waits for an answer.")
	descTooLarge       = desc("messages_too_large_total", "Messages larger than the receiver's transport accepts (a RawSocket client's maximum): not sent; the sender got ERROR wamp.error.payload_size_exceeded where it waits for an answer.")
	descOpenConns      = desc("tcp_connections", "TCP connections the server holds: sessions, handshakes and HTTP keep-alives.")
	descInvalidUTF8    = desc("invalid_utf8_total", "Text frames that were not UTF-8 (connection closed with 1007).")
	descPendingMsgs    = desc("queued_messages", "Messages in the outbound queues of open connections now (a shared frame counts once per queue).", "transport")
	descPendingBytes   = desc("queued_bytes", "Bytes in the outbound queues of open connections now (a shared frame counts once per queue).", "transport")
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descSessions, descRegistrations, descSubscriptions, descJoined, descLeft, descAborted, descAuthFailures, descProtocolErrors,
		descInternalErrors, descMessagesIn, descMessagesOut, descCallDuration, descConnections,
		descAccepted, descRefused, descSlow, descBytesIn, descBytesOut, descQueueMsgs, descQueueBytes,
		descClusterNodes, descNodesDropped, descResyncs, descCallsLost, descConflicts, descFenced, descLinkRepairs, descLimits, descConversions, descTooLarge, descOpenConns,
		descInvalidUTF8, descPendingMsgs, descPendingBytes,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	for k, n := range c.r.SessionCounts() {
		gauge(descSessions, float64(n), k.Realm, k.Serializer, k.Transport)
	}
	rs := c.r.Stats()
	counter(descJoined, rs.SessionsJoined.Load())
	counter(descLeft, rs.SessionsLeft.Load())
	counter(descAborted, rs.Aborted.Load())
	counter(descAuthFailures, rs.AuthFailures.Load())
	counter(descProtocolErrors, rs.ProtocolErrors.Load())
	counter(descInternalErrors, rs.InternalErrors.Load())
	counter(descConversions, rs.ConversionFailures.Load())
	counter(descTooLarge, rs.TooLarge.Load())
	for limit, n := range c.r.Stats().LimitsReached() {
		counter(descLimits, n, limit)
	}
	if c.conns != nil {
		gauge(descOpenConns, float64(c.conns.Open.Load()))
		counter(descLimits, c.conns.Refused.Load(), "server.max_connections")
		counter(descLimits, c.conns.RefusedPerAddress.Load(), "server.max_connections_per_address")
	}
	for realm, n := range c.r.RealmTables() {
		gauge(descRegistrations, float64(n.Registrations), realm)
		gauge(descSubscriptions, float64(n.Subscriptions), realm)
	}
	if c.links != nil {
		c.collectCluster(counter, gauge)
	}
	for _, t := range received {
		counter(descMessagesIn, rs.MessagesIn.Load(t), t.String())
	}
	for _, t := range sent {
		counter(descMessagesOut, rs.MessagesOut.Load(t), t.String())
	}
	h := rs.CallLatency.Snapshot()
	buckets := make(map[float64]uint64, len(h.Buckets))
	for i, le := range router.LatencyBuckets {
		buckets[le.Seconds()] = h.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(descCallDuration, h.Count, h.Sum.Seconds(), buckets)

	tooBig := make(map[string]uint64) // by config key: transports may share one
	var invalidUTF8 uint64
	for _, t := range c.ts {
		tc := t.Counters()
		name := tc.Transport
		gauge(descConnections, float64(tc.Connections), name)
		counter(descAccepted, tc.Accepted, name)
		counter(descRefused, tc.Refused, name)
		counter(descSlow, tc.SlowConsumerDisconnects, name)
		counter(descBytesIn, tc.BytesIn, name)
		counter(descBytesOut, tc.BytesOut, name)
		gauge(descQueueMsgs, float64(tc.QueueHighMsgs), name)
		gauge(descQueueBytes, float64(tc.QueueHighBytes), name)
		gauge(descPendingMsgs, float64(tc.PendingMsgs), name)
		gauge(descPendingBytes, float64(tc.PendingBytes), name)
		tooBig[tc.TooBigKey] += tc.TooBig
		tooBig[tc.TooBigHandshakeKey] += tc.TooBigHandshake
		invalidUTF8 += tc.InvalidUTF8
	}
	for key, n := range tooBig {
		counter(descLimits, n, key)
	}
	counter(descInvalidUTF8, invalidUTF8)
}

// collectCluster collects the junction_cluster_* series, which only a
// cluster node has.
func (c *Collector) collectCluster(counter func(*prometheus.Desc, uint64, ...string), gauge func(*prometheus.Desc, float64, ...string)) {
	rs := c.r.Stats()
	gauge(descClusterNodes, float64(c.r.ClusterNodes()))
	counter(descNodesDropped, rs.ClusterNodesDropped.Load())
	counter(descResyncs, rs.ClusterResyncs.Load())
	counter(descCallsLost, rs.ClusterCallsLost.Load())
	counter(descConflicts, rs.ClusterConflicts.Load())
	counter(descFenced, rs.ClusterSessionsFenced.Load())
	if ls, ok := c.links(); ok {
		for kind, n := range map[string]uint64{"resent": ls.Resent, "resets": ls.Resets, "gaps": ls.Gaps,
			"duplicates": ls.Duplicates, "overflows": ls.Overflows, "stalls": ls.Stalls} {
			counter(descLinkRepairs, n, kind)
		}
	}
}

// received and sent are the message types a router receives from peers and
// sends to them (WAMP basic and advanced profiles as the router implements
// them): the only ones whose counts can move. A peer that sends another
// type, WELCOME or RESULT say, ends its session with a protocol error,
// counted by junction_protocol_errors_total.
var (
	received = []wamp.MessageType{
		wamp.HELLO, wamp.AUTHENTICATE, wamp.ABORT, wamp.GOODBYE, wamp.ERROR,
		wamp.PUBLISH, wamp.SUBSCRIBE, wamp.UNSUBSCRIBE,
		wamp.CALL, wamp.CANCEL, wamp.REGISTER, wamp.UNREGISTER, wamp.YIELD,
	}
	sent = []wamp.MessageType{
		wamp.WELCOME, wamp.ABORT, wamp.CHALLENGE, wamp.GOODBYE, wamp.ERROR,
		wamp.PUBLISHED, wamp.SUBSCRIBED, wamp.UNSUBSCRIBED, wamp.EVENT,
		wamp.RESULT, wamp.REGISTERED, wamp.UNREGISTERED, wamp.INVOCATION, wamp.INTERRUPT,
	}
)
