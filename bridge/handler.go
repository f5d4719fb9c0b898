package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// closeTimeout bounds closing a session the bridge no longer needs.
const closeTimeout = 5 * time.Second

// timeoutGrace is how long after a call's timeout the bridge still waits
// for the router, which cancels the call at the timeout and answers
// wamp.error.timeout.
const timeoutGrace = time.Second

// serve handles a request to ep.
func (b *Bridge) serve(st *state, ep *endpoint, w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	defer func() { b.stats.count(ep, rec.code) }()
	if b.closed.Load() {
		unavailable(rec, "the bridge is shut down")
		return
	}
	if r.Method != http.MethodPost {
		rec.Header().Set("Allow", http.MethodPost)
		fail(rec, http.StatusMethodNotAllowed, wamp.ErrInvalidArgument, "want POST")
		return
	}
	// application/json is not a type a browser sends to another origin
	// without asking it first (CORS preflight, which the bridge does not
	// answer): a page elsewhere cannot make a visitor's browser post here.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fail(rec, http.StatusUnsupportedMediaType, wamp.ErrInvalidArgument, "want Content-Type: application/json")
		return
	}
	select {
	case st.sem <- struct{}{}:
		defer func() { <-st.sem }()
	default:
		unavailable(rec, "too many bridge requests at once (bridge.max_concurrent)")
		return
	}
	// The body must come within read_timeout, and the answer be taken
	// within read_timeout of when it is ready (call sets it again for its
	// timeout): a client that stops reading frees its place. net/http
	// clears both deadlines before the next request on the connection.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(st.cfg.ReadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(2*st.cfg.ReadTimeout + st.cfg.DefaultCallTimeout + timeoutGrace))
	id, body, err := b.authenticate(st, ep, rec, r)
	if err != nil {
		return // answered
	}
	req, err := parseRequest(ep.kind, body, st.cfg.MaxJSONDepth)
	if err != nil {
		fail(rec, http.StatusBadRequest, wamp.ErrInvalidArgument, err.Error())
		return
	}
	if ep.kind == kindCaller {
		b.call(st, ep, id, req, rec, r)
	} else {
		b.publish(st, ep, id, req, rec, r)
	}
}

// authenticate authenticates r and reads its body. On failure it has
// answered and returns an error.
func (b *Bridge) authenticate(st *state, ep *endpoint, w http.ResponseWriter, r *http.Request) (identity, []byte, error) {
	method := credentials(r)
	if !ep.accepts(method) {
		return identity{}, nil, refuse(w, ep, unauthenticated("this endpoint does not take "+string(method)+" requests"))
	}
	id := identity{realm: ep.Realm} // anonymous
	// A ticket is checked before the body is read.
	if method == AuthTicket {
		var err error
		if id, err = b.limited(r, func() (identity, error) { return st.ticketAuth(ep, r, time.Now()) }); err != nil {
			return identity{}, nil, refuse(w, ep, err)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, st.cfg.MaxBody))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		fail(w, http.StatusRequestEntityTooLarge, wamp.ErrPayloadSizeExceeded, "the body is over bridge.max_body")
		return identity{}, nil, err
	}
	if err != nil {
		fail(w, http.StatusBadRequest, wamp.ErrInvalidArgument, "cannot read the body within bridge.read_timeout")
		return identity{}, nil, err
	}
	if method == AuthSigned {
		if id, err = b.limited(r, func() (identity, error) { return b.signedAuth(st, ep, r, body, time.Now()) }); err != nil {
			return identity{}, nil, refuse(w, ep, err)
		}
	}
	return id, body, nil
}

// limited runs the authentication auth under the failure limit of the
// request's client address.
func (b *Bridge) limited(r *http.Request, auth func() (identity, error)) (identity, error) {
	if b.failures == nil {
		return auth()
	}
	addr := b.addr(r)
	if !b.failures.ReserveAuthentication(addr) {
		return identity{}, &authError{why: "too many failed authentications from this address; try again later", limited: true}
	}
	id, err := auth()
	b.failures.ReleaseAuthentication(addr, err != nil)
	return id, err
}

// refuse answers an authentication failure: 401 with WWW-Authenticate, 429
// when the address is at its failure limit, 503 when the replay memory is
// full.
func refuse(w http.ResponseWriter, ep *endpoint, err error) error {
	var ae *authError
	if errors.As(err, &ae) && ae.full {
		unavailable(w, ae.why)
		return err
	}
	if ae != nil && ae.limited {
		w.Header().Set("Retry-After", "60")
		fail(w, http.StatusTooManyRequests, wamp.ErrAuthenticationFailed, ae.why)
		return err
	}
	if ep.accepts(AuthTicket) {
		w.Header().Add("WWW-Authenticate", `Bearer realm="`+ep.Realm+`"`)
	}
	if ep.accepts(AuthSigned) {
		w.Header().Add("WWW-Authenticate", `Signature realm="`+ep.Realm+`"`)
	}
	fail(w, http.StatusUnauthorized, wamp.ErrAuthenticationFailed, strings.TrimPrefix(err.Error(), "bridge: "))
	return err
}

// session returns the session of id, answering 503 if it cannot be joined.
func (b *Bridge) session(ctx context.Context, id identity, w http.ResponseWriter) (*clientlib.Client, bool) {
	c, err := b.sessions.get(ctx, id)
	var re *wamp.RPCError
	switch {
	case err == nil:
		return c, true
	case errors.As(err, &re):
		answerError(w, re)
	default:
		unavailable(w, "cannot join the realm: "+err.Error())
	}
	return nil, false
}

// call answers a caller request.
func (b *Bridge) call(st *state, ep *endpoint, id identity, req *request, w http.ResponseWriter, r *http.Request) {
	timeout := st.cfg.DefaultCallTimeout
	if t := req.Options.Timeout; t != nil {
		timeout = time.Duration(*t) * time.Millisecond
		if *t <= 0 || timeout > st.cfg.MaxCallTimeout {
			fail(w, http.StatusBadRequest, wamp.ErrInvalidArgument, "options.timeout: want milliseconds, more than 0 and at most bridge.max_call_timeout ("+st.cfg.MaxCallTimeout.String()+")")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout+timeoutGrace)
	defer cancel()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + timeoutGrace + st.cfg.ReadTimeout))
	c, ok := b.session(ctx, id, w)
	if !ok {
		return
	}
	res, err := c.Call(ctx, req.Procedure, req.args, req.kwargs, &clientlib.CallOptions{Timeout: timeout, DiscloseMe: req.Options.DiscloseMe})
	if err != nil {
		b.callFailed(w, ep, err)
		return
	}
	body, err := encodeAnswer(answer{}, res.Args, res.Kwargs)
	if err != nil {
		fail(w, http.StatusBadGateway, wamp.ErrInvalidArgument, "the result has no JSON form: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// publish answers a publisher request.
// The router's acknowledgement is awaited for default_call_timeout at most.
func (b *Bridge) publish(st *state, ep *endpoint, id identity, req *request, w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), st.cfg.DefaultCallTimeout)
	defer cancel()
	c, ok := b.session(ctx, id, w)
	if !ok {
		return
	}
	o := req.Options
	pub, err := c.PublishAcknowledged(ctx, req.Topic, req.args, req.kwargs, &clientlib.PublishOptions{
		DiscloseMe: o.DiscloseMe, Retain: o.Retain, ExcludeAuthID: o.ExcludeAuthID, EligibleAuthID: o.EligibleAuthID,
		ExcludeAuthRole: o.ExcludeAuthRole, EligibleAuthRole: o.EligibleAuthRole})
	if err != nil {
		b.callFailed(w, ep, err)
		return
	}
	writeJSON(w, http.StatusOK, mustMarshal(answer{ID: uint64(pub)}))
}

// callFailed answers the failure of a call or publication.
func (b *Bridge) callFailed(w http.ResponseWriter, ep *endpoint, err error) {
	var re *wamp.RPCError
	switch {
	case errors.As(err, &re):
		answerError(w, re)
	case errors.Is(err, context.DeadlineExceeded):
		fail(w, http.StatusGatewayTimeout, wamp.ErrTimeout, "no answer within the timeout")
	case errors.Is(err, context.Canceled): // the client went away
		fail(w, http.StatusServiceUnavailable, wamp.ErrCanceled, "request canceled")
	default:
		b.log.Info("bridge: request failed", "path", ep.Path, "realm", ep.Realm, "error", err)
		unavailable(w, "the bridge's session failed; try again")
	}
}

// statusOf maps a WAMP error URI to the HTTP status the bridge answers.
func statusOf(uri wamp.URI) int {
	switch uri {
	case wamp.ErrNoSuchProcedure:
		return http.StatusNotFound
	case wamp.ErrNotAuthorized, wamp.ErrAuthorizationFailed:
		return http.StatusForbidden
	case wamp.ErrInvalidURI, wamp.ErrInvalidArgument, wamp.ErrOptionNotAllowed:
		return http.StatusBadRequest
	case wamp.ErrPayloadSizeExceeded:
		return http.StatusRequestEntityTooLarge
	case wamp.ErrCanceled, wamp.ErrTimeout:
		return http.StatusGatewayTimeout
	case wamp.ErrNoAvailableCallee, wamp.ErrUnavailable:
		return http.StatusServiceUnavailable
	case clientlib.ErrRuntime:
		return http.StatusBadGateway
	}
	if strings.HasPrefix(string(uri), "wamp.") {
		return http.StatusInternalServerError
	}
	return http.StatusBadGateway // the callee's own error
}

// answerError answers a WAMP error with its URI, args and kwargs.
func answerError(w http.ResponseWriter, re *wamp.RPCError) {
	body, err := encodeAnswer(answer{Error: string(re.URI)}, re.Args, re.Kwargs)
	if err != nil {
		body = mustMarshal(answer{Error: string(re.URI)})
	}
	writeJSON(w, statusOf(re.URI), body)
}

// unavailable answers 503 with Retry-After.
func unavailable(w http.ResponseWriter, why string) {
	w.Header().Set("Retry-After", "1")
	fail(w, http.StatusServiceUnavailable, wamp.ErrUnavailable, why)
}

// fail answers code with uri and why as the only arg.
func fail(w http.ResponseWriter, code int, uri wamp.URI, why string) {
	writeJSON(w, code, mustMarshal(answer{Error: string(uri), Args: mustMarshal([]string{why})}))
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("bridge: " + err.Error())
	}
	return b
}

// recorder keeps the status code written, for the metrics.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
