package bridge_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkBridgeCall measures a call through the bridge: HTTP POST with a
// ticket over a keep-alive connection, CALL from the in-process session,
// a callee over WebSocket (json), the result as JSON.
func BenchmarkBridgeCall(b *testing.B) {
	f := start(b, bridgeConfig())
	body := []byte(addBody)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: testTimeout}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, f.base+"/call", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+aliceTicket)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
