package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
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
	streamed  bool   // an application/x-ndjson answer: body is its final line, nil if none came
	// retryAfter is the Retry-After header's delay in seconds (0: none
	// or not in seconds; an HTTP date is not read).
	retryAfter time.Duration
}

// lineFunc reads one line of a streamed answer: final reports whether it
// is the last; an error stops the reading.
type lineFunc func(line []byte) (final bool, err error)

// ndjson is the media type of a streamed answer: one JSON value per line.
const ndjson = "application/x-ndjson"

// post POSTs body to e within e.Timeout (and ctx), and reads the response
// body up to e.MaxResponseBytes. With onLine set, an application/x-ndjson
// answer is read line by line (each line up to e.MaxResponseBytes), each
// handed to onLine as it arrives, until the final one, which is the body.
func post(ctx context.Context, hc *http.Client, name string, e *Endpoint, body []byte, onLine lineFunc) (response, error) {
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
	if onLine != nil {
		req.Header.Set("Accept", "application/json, "+ndjson)
	}
	if e.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(e.Secret, time.Now(), body))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		r.retryAfter = time.Duration(min(secs, 1<<20)) * time.Second
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); onLine != nil && mt == ndjson {
		r.streamed = true
		r.body, r.truncated, err = readLines(resp.Body, e.MaxResponseBytes, onLine)
		return r, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(e.MaxResponseBytes)+1))
	if err != nil {
		return response{}, err
	}
	r.body = b
	if len(b) > e.MaxResponseBytes {
		r.body, r.truncated = b[:e.MaxResponseBytes], true
	}
	return r, nil
}

// readLines hands each non-empty line of body to onLine until the final
// one, which it returns; nil if body ends first. A line longer than max
// stops it: truncated.
func readLines(body io.Reader, max int, onLine lineFunc) (final []byte, truncated bool, err error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, min(max, 4096)), max)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		last, err := onLine(line)
		if err != nil {
			return nil, false, err
		}
		if last {
			return bytes.Clone(line), false, nil
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, true, nil
	}
	return nil, false, sc.Err()
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
