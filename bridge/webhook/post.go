package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Request headers set on every POST besides Endpoint.Headers.
const (
	HeaderWebhook   = "X-Junction-Webhook"   // the webhook's name
	HeaderSignature = "X-Junction-Signature" // with Endpoint.Secret: t=<unix>,v1=<hex HMAC-SHA256>
)

// maxHeaderBytes bounds the response headers read (net/http's default is
// 10 MiB).
const maxHeaderBytes = 64 << 10

// newHTTPClient is the client of every webhook: no redirect followed (a 3xx
// is the answer), connections kept alive for the next request.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.MaxResponseHeaderBytes = maxHeaderBytes
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// response is what an endpoint answered.
type response struct {
	status    int
	body      []byte // at most MaxResponseBytes
	truncated bool   // the body was longer: what is past MaxResponseBytes was not read
	// retryAfter is the Retry-After header's delay in seconds (0: none
	// or not in seconds; an HTTP date is not read).
	retryAfter time.Duration
}

// post POSTs body to e within e.Timeout (and ctx), and reads the response
// body up to e.MaxResponseBytes.
func post(ctx context.Context, hc *http.Client, name string, e *Endpoint, body []byte) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for k, v := range e.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "junction-webhook")
	req.Header.Set(HeaderWebhook, name)
	if e.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(e.Secret, time.Now(), body))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(e.MaxResponseBytes)+1))
	if err != nil {
		return response{}, err
	}
	r := response{status: resp.StatusCode, body: b}
	if len(b) > e.MaxResponseBytes {
		r.body, r.truncated = b[:e.MaxResponseBytes], true
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		r.retryAfter = time.Duration(min(secs, 1<<20)) * time.Second
	}
	return r, nil
}

// Sign is the X-Junction-Signature of body sent at t with secret:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>.<body>">". A
// receiver recomputes it with the shared secret, compares in constant time
// (hmac.Equal) and refuses a t too far from its clock (replays).
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return fmt.Sprintf("t=%s,v1=%s", ts, hex.EncodeToString(mac.Sum(nil)))
}

// retryable reports whether a delivery answered status may succeed later.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

func ok2xx(status int) bool { return status >= 200 && status < 300 }
