package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// Error URIs a callee webhook answers a call with when its endpoint gives
// no answer of its own.
const (
	// ErrBusy: MaxConcurrent requests are in flight already.
	ErrBusy wamp.URI = "junction.error.bridge.busy"
	// ErrTimeout: the endpoint did not answer within its timeout.
	ErrTimeout wamp.URI = "junction.error.bridge.timeout"
	// ErrUnavailable: no HTTP answer (connection refused, DNS, TLS...),
	// or the webhook is stopping.
	ErrUnavailable wamp.URI = "junction.error.bridge.unavailable"
	// ErrHTTPStatus: a non-2xx status without an {"error": uri} body; the
	// args are the status code and its text.
	ErrHTTPStatus wamp.URI = "junction.error.bridge.http_status"
	// ErrBadResponse: a 2xx response that is not {"args": [...],
	// "kwargs": {...}}, or one over max_response_size.
	ErrBadResponse wamp.URI = "junction.error.bridge.bad_response"
)

// Outcomes of a call, the calls_total label.
const (
	callResult = iota
	callError
	callBusy
	callTimeout
	callUnavailable
	callHTTPStatus
	callBadResponse
	callCanceled
	callInvalidArgument
	nCallOutcomes
)

var callOutcomes = [nCallOutcomes]string{"result", "error", "busy", "timeout", "unavailable", "http_status",
	"bad_response", "canceled", "invalid_argument"}

// callee is a running callee webhook: each invocation is one POST, at most
// MaxConcurrent at once.
type callee struct {
	s   *Set
	cfg CalleeConfig
	st  *stats
	sem chan struct{}

	mu       sync.Mutex
	stopping bool
	inflight sync.WaitGroup
}

func (s *Set) startCallee(ctx context.Context, cfg CalleeConfig, st *stats) (func(context.Context), error) {
	cl := &callee{s: s, cfg: cfg, st: st, sem: make(chan struct{}, cfg.MaxConcurrent)}
	sess, err := s.startSession(ctx, cfg.Name, cfg.Session, st, cl.attach)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) { cl.stop(ctx, sess) }, nil
}

func (cl *callee) attach(ctx context.Context, c *clientlib.Client) error {
	_, err := c.Register(ctx, cl.cfg.Procedure, cl.handle,
		&clientlib.RegisterOptions{Match: cl.cfg.Match, Invoke: cl.cfg.Invoke})
	return err
}

// stop answers new calls ErrUnavailable, waits for those in flight within
// ctx, then leaves the realm.
func (cl *callee) stop(ctx context.Context, sess *session) {
	cl.mu.Lock()
	cl.stopping = true
	cl.mu.Unlock()
	sess.leaving.Store(true)
	idle := make(chan struct{})
	go func() { cl.inflight.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-ctx.Done():
	}
	sess.stop(ctx)
}

// enter takes a slot for a call, or says why not.
func (cl *callee) enter() (int, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.stopping {
		return callUnavailable, false
	}
	select {
	case cl.sem <- struct{}{}:
		cl.inflight.Add(1)
		return 0, true
	default:
		return callBusy, false
	}
}

func (cl *callee) leave() {
	<-cl.sem
	cl.inflight.Done()
}

// handle answers an invocation with the endpoint's answer.
func (cl *callee) handle(ctx context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
	if why, ok := cl.enter(); !ok {
		cl.st.calls[why].Add(1)
		if why == callBusy {
			cl.s.warnf(cl.cfg.Name, "busy", "callee webhook busy: call refused", "max_concurrent", cl.cfg.MaxConcurrent)
			return nil, wamp.NewError(ErrBusy, fmt.Sprintf("%s: %d requests in flight already", cl.cfg.Name, cl.cfg.MaxConcurrent))
		}
		return nil, wamp.NewError(ErrUnavailable, cl.cfg.Name+": webhook stopping")
	}
	defer cl.leave()
	res, outcome, err, cause := cl.call(ctx, inv)
	cl.st.calls[outcome].Add(1)
	if outcome != callResult && outcome != callError && outcome != callCanceled {
		cl.s.warnf(cl.cfg.Name, callOutcomes[outcome], "callee webhook failed", "procedure", inv.Procedure, "error", err, "cause", cause)
	}
	return res, err
}

// call POSTs inv and returns the result or the error to answer with, the
// outcome, and for the log what caused an error.
func (cl *callee) call(ctx context.Context, inv *clientlib.Invocation) (*clientlib.Result, int, error, error) {
	body, err := encodeCall(inv)
	if err != nil {
		return nil, callInvalidArgument, wamp.NewError(wamp.ErrInvalidArgument, "not convertible to JSON: "+err.Error()), err
	}
	var lineErr error // why a streamed answer was not read to its end
	resp, err := post(ctx, cl.s.hc, cl.cfg.Name, &cl.cfg.Endpoint, body, progressLines(ctx, inv, &lineErr))
	switch {
	case ctx.Err() != nil:
		return nil, callCanceled, wamp.NewError(wamp.ErrCanceled, "call canceled"), err
	case lineErr != nil:
		return nil, callBadResponse, wamp.NewError(ErrBadResponse, fmt.Sprintf("%s: %v", cl.cfg.Name, lineErr)), lineErr
	case errors.Is(err, context.DeadlineExceeded):
		return nil, callTimeout, wamp.NewError(ErrTimeout, fmt.Sprintf("%s: no answer within %s", cl.cfg.Name, cl.cfg.Timeout)), err
	case err != nil:
		return nil, callUnavailable, wamp.NewError(ErrUnavailable, fmt.Sprintf("%s: no HTTP answer: %s", cl.cfg.Name, errText(err))), err
	case resp.truncated:
		return nil, callBadResponse, wamp.NewError(ErrBadResponse, fmt.Sprintf("%s: response larger than %d bytes", cl.cfg.Name, cl.cfg.MaxResponseBytes)), nil
	case resp.streamed && resp.body == nil:
		return nil, callBadResponse, wamp.NewError(ErrBadResponse, cl.cfg.Name+": the stream ended without a final answer"), nil
	}
	ab, args, kwargs, derr := decodeAnswer(resp.body)
	if ok2xx(resp.status) {
		if derr != nil {
			return nil, callBadResponse, wamp.NewError(ErrBadResponse, fmt.Sprintf("%s: %v", cl.cfg.Name, derr)), derr
		}
		return &clientlib.Result{Args: args, Kwargs: kwargs}, callResult, nil, nil
	}
	if derr == nil && ab.Error != "" && wamp.ValidURI(wamp.URI(ab.Error), false, false) {
		return nil, callError, &wamp.RPCError{URI: wamp.URI(ab.Error), Args: args, Kwargs: kwargs}, err
	}
	return nil, callHTTPStatus, wamp.NewError(ErrHTTPStatus, resp.status, http.StatusText(resp.status)), err
}

// errText says why no HTTP answer came, without the address the error
// carries: the caller need not learn where the endpoint is (the log has
// the whole error).
func errText(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the endpoint"
	case errors.As(err, &dnsErr):
		return "host not found"
	case errors.As(err, &opErr):
		return opErr.Op + " failed"
	}
	return "request failed"
}

// errStopped stops reading a streamed answer; the reason is in lineErr.
var errStopped = errors.New("webhook: stream stopped")

// progressLines reads the lines of a streamed (application/x-ndjson)
// answer: {"progress": true, "args", "kwargs"} lines are progressive
// results, sent to the caller if it asked for them (dropped otherwise);
// the first other line is the final answer.
func progressLines(ctx context.Context, inv *clientlib.Invocation, lineErr *error) lineFunc {
	want := inv.Details.Bool("receive_progress", false)
	return func(line []byte) (bool, error) {
		ab, args, kwargs, err := decodeAnswer(line)
		switch {
		case err != nil:
			*lineErr = err
			return false, errStopped
		case !ab.Progress:
			return true, nil
		case want:
			if err := inv.Progress(ctx, args, kwargs); err != nil {
				*lineErr = fmt.Errorf("progressive result not sent: %w", err)
				return false, errStopped
			}
		}
		return false, nil
	}
}
