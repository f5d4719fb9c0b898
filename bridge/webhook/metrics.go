package webhook

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// stats are a webhook's counters, read at scrape time.
type stats struct {
	kind        string // "subscriber" or "callee"
	up          atomic.Bool
	deliveries  [3]atomic.Uint64 // by outDelivered, outRejected, outFailed
	dropped     [3]atomic.Uint64 // by dropQueueFull, dropShutdown, dropUnconvertible
	retries     atomic.Uint64
	queued      atomic.Int64
	queuedBytes atomic.Int64
	calls       [nCallOutcomes]atomic.Uint64
}

// Reasons an event is dropped before delivery.
const (
	dropQueueFull = iota
	dropShutdown
	dropUnconvertible
)

var (
	deliveryOutcomes = [...]string{"delivered", "rejected", "failed"}
	dropReasons      = [...]string{"queue_full", "shutdown", "unconvertible"}
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("junction_bridge_webhook_"+name, help, append([]string{"webhook"}, labels...), nil)
}

var (
	descUp          = desc("up", "1 while the webhook's session is joined and subscribed or registered, 0 while it joins again.", "kind")
	descDeliveries  = desc("deliveries_total", "Events of subscriber webhooks by outcome: delivered (2xx), rejected (a status that retrying cannot change, given up at once), failed (given up after the retries).", "outcome")
	descDropped     = desc("dropped_total", "Events of subscriber webhooks never delivered, by reason: queue_full (over queue_messages or queue_bytes), shutdown (left when the drain's time was up), unconvertible (not representable in JSON).", "reason")
	descRetries     = desc("retries_total", "Delivery attempts of subscriber webhooks tried again after a failure.")
	descQueue       = desc("queue_length", "Events waiting in a subscriber webhook's queue.")
	descQueueBytes  = desc("queue_bytes", "Bytes of the request bodies waiting in a subscriber webhook's queue.")
	descCallsByOutc = desc("calls_total", "Calls of callee webhooks by outcome: result, error (the endpoint's own error URI), or the junction.error.bridge.* / wamp.error.* error they were answered with (busy, timeout, unavailable, http_status, bad_response, canceled, invalid_argument).", "outcome")
)

// Describe implements prometheus.Collector.
func (s *Set) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descDeliveries, descDropped, descRetries, descQueue, descQueueBytes, descCallsByOutc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the counters of the webhooks
// configured, labelled by their names (never by anything a client sends).
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	all := make(map[string]*stats, len(s.stats))
	for name, st := range s.stats {
		all[name] = st
	}
	s.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for name, st := range all {
		up := 0.0
		if st.up.Load() {
			up = 1
		}
		gauge(descUp, up, name, st.kind)
		if st.kind == "callee" {
			for i, o := range callOutcomes {
				counter(descCallsByOutc, st.calls[i].Load(), name, o)
			}
			continue
		}
		for i, o := range deliveryOutcomes {
			counter(descDeliveries, st.deliveries[i].Load(), name, o)
		}
		for i, r := range dropReasons {
			counter(descDropped, st.dropped[i].Load(), name, r)
		}
		counter(descRetries, st.retries.Load(), name)
		gauge(descQueue, float64(st.queued.Load()), name)
		gauge(descQueueBytes, float64(st.queuedBytes.Load()), name)
	}
}

var _ prometheus.Collector = (*Set)(nil)
