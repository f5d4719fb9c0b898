package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/internal/buildinfo"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
)

// BridgeSource returns the HTTP bridge's request counts (bridge.Bridge.Requests).
type BridgeSource func() []bridge.RequestCount

// HandlerWithBridge is Handler plus junction_bridge_requests_total, the
// requests the HTTP bridge answered by endpoint (path) and status code.
func HandlerWithBridge(b BridgeSource, r *router.Router, build buildinfo.Info, conns *transport.ListenerStats, links LinkSource, ts ...transport.Metered) http.Handler {
	return handler([]prometheus.Collector{bridgeCollector(b)}, r, build, conns, links, ts...)
}

var descBridgeRequests = desc("bridge_requests_total", "Requests the HTTP bridge answered, by endpoint (URL path) and HTTP status code.", "endpoint", "code")

// bridgeCollector reads the bridge's counts at scrape time.
type bridgeCollector BridgeSource

func (bridgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descBridgeRequests }

func (b bridgeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, rc := range b() {
		ch <- prometheus.MustNewConstMetric(descBridgeRequests, prometheus.CounterValue, float64(rc.Count), rc.Endpoint, rc.Code)
	}
}
