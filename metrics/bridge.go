package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/junction-wamp/junction/bridge"
)

// BridgeSource returns the HTTP bridge's request counts (bridge.Bridge.Requests).
type BridgeSource func() []bridge.RequestCount

// BridgeRequests collects junction_bridge_requests_total, the requests the
// HTTP bridge answered by endpoint (path) and status code, from b at scrape
// time: one of HandlerWith's extra collectors.
func BridgeRequests(b BridgeSource) prometheus.Collector { return bridgeCollector(b) }

var descBridgeRequests = desc("bridge_requests_total", "Requests the HTTP bridge answered, by endpoint (URL path) and HTTP status code.", "endpoint", "code")

// bridgeCollector reads the bridge's counts at scrape time.
type bridgeCollector BridgeSource

func (bridgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descBridgeRequests }

func (b bridgeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, rc := range b() {
		ch <- prometheus.MustNewConstMetric(descBridgeRequests, prometheus.CounterValue, float64(rc.Count), rc.Endpoint, rc.Code)
	}
}
