package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// request is the body of a caller or publisher request:
//
//	{"procedure": "com.example.add", "args": [1, 2], "kwargs": {}, "options": {"timeout": 5000}}
//	{"topic": "com.example.news", "args": ["hello"], "options": {"exclude_authid": ["bob"]}}
type request struct {
	Procedure string          `json:"procedure"`
	Topic     string          `json:"topic"`
	Args      json.RawMessage `json:"args"`
	Kwargs    json.RawMessage `json:"kwargs"`
	Options   options         `json:"options"`

	args   []any
	kwargs map[string]any
}

// options are the CALL and PUBLISH options a request may set; any other
// is refused.
type options struct {
	// Timeout is the call's timeout in milliseconds (caller).
	Timeout    *int64 `json:"timeout"`
	DiscloseMe bool   `json:"disclose_me"`
	// Publisher only.
	Retain           bool     `json:"retain"`
	ExcludeAuthID    []string `json:"exclude_authid"`
	EligibleAuthID   []string `json:"eligible_authid"`
	ExcludeAuthRole  []string `json:"exclude_authrole"`
	EligibleAuthRole []string `json:"eligible_authrole"`
}

// parseRequest reads a body: UTF-8, nesting at most maxDepth, no unknown
// field, the URI its kind needs, args a list and kwargs a dict. The
// payload is decoded by the router's JSON codec, which applies the binary
// convention and refuses what the router refuses from a JSON client.
func parseRequest(k kind, body []byte, maxDepth int) (*request, error) {
	if !utf8.Valid(body) {
		return nil, errors.New("the body is not UTF-8")
	}
	if d := depth(body); d > maxDepth {
		return nil, fmt.Errorf("the body nests %d levels deep, over bridge.max_json_depth (%d)", d, maxDepth)
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("want a JSON object such as {\"procedure\": ..., \"args\": [...], \"kwargs\": {...}}: %w", err)
	}
	if dec.More() {
		return nil, errors.New("want one JSON object, got more")
	}
	if err := req.check(k); err != nil {
		return nil, err
	}
	p := wamp.Payload{Encoding: wamp.EncodingJSON}
	if !isNull(req.Args) {
		p.RawArgs = req.Args
	}
	if !isNull(req.Kwargs) {
		p.RawKwargs = req.Kwargs
	}
	var err error
	if req.args, req.kwargs, err = serializers.DecodePayload(&p); err != nil {
		return nil, fmt.Errorf("args or kwargs: %w", err)
	}
	return &req, nil
}

// check checks what request names for kind k.
func (req *request) check(k kind) error {
	uri, other, name := req.Procedure, req.Topic, "procedure"
	if k == kindPublisher {
		uri, other, name = req.Topic, req.Procedure, "topic"
		if req.Options.Timeout != nil {
			return errors.New("options.timeout is for calls")
		}
	} else if req.Options.Retain || req.Options.ExcludeAuthID != nil || req.Options.EligibleAuthID != nil ||
		req.Options.ExcludeAuthRole != nil || req.Options.EligibleAuthRole != nil {
		return errors.New("options: retain and the exclude/eligible lists are for publications")
	}
	if uri == "" || other != "" {
		return fmt.Errorf("want %q (a URI), and only it", name)
	}
	if !isNull(req.Args) && (len(req.Args) == 0 || req.Args[0] != '[') {
		return errors.New("args: want a list")
	}
	if !isNull(req.Kwargs) && (len(req.Kwargs) == 0 || req.Kwargs[0] != '{') {
		return errors.New("kwargs: want a dict")
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// depth returns how deeply the lists and dicts of the JSON text b nest,
// outside strings. b is read byte by byte and never decoded: a deeply
// nested body is refused before a decoder recurses into it.
func depth(b []byte) int {
	d, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			deepest = max(deepest, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return deepest
}

// answer is the body of a response: a result's args and kwargs, a
// publication's id, or an error's URI, args and kwargs.
type answer struct {
	Error  string          `json:"error,omitempty"`
	ID     uint64          `json:"id,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
	Kwargs json.RawMessage `json:"kwargs,omitempty"`
}

// encodeAnswer adds args and kwargs to a, encoded by the router's JSON
// codec (binary values with WAMP's convention).
func encodeAnswer(a answer, args []any, kwargs map[string]any) ([]byte, error) {
	p, err := serializers.EncodePayload(wamp.EncodingJSON, args, kwargs)
	if err != nil {
		return nil, err
	}
	a.Args, a.Kwargs = p.RawArgs, p.RawKwargs
	if a.Args == nil && a.Error == "" {
		a.Args = json.RawMessage("[]")
	}
	return json.Marshal(a)
}

// stats counts the requests answered, by endpoint and status code.
type stats struct {
	mu     sync.Mutex
	counts map[statsKey]uint64
}

type statsKey struct {
	Endpoint string
	Code     int
}

func (s *stats) count(ep *endpoint, code int) {
	if code == 0 {
		code = http.StatusOK
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[statsKey]uint64{}
	}
	s.counts[statsKey{ep.Path, code}]++
}

// RequestCount is the number of requests one endpoint answered with one
// status code.
type RequestCount struct {
	Endpoint string // the endpoint's path
	Code     string // the HTTP status code
	Count    uint64
}

// Requests returns the requests answered so far, by endpoint and status
// code (the metric junction_bridge_requests_total).
func (b *Bridge) Requests() []RequestCount {
	b.stats.mu.Lock()
	defer b.stats.mu.Unlock()
	out := make([]RequestCount, 0, len(b.stats.counts))
	for k, n := range b.stats.counts {
		out = append(out, RequestCount{Endpoint: k.Endpoint, Code: strconv.Itoa(k.Code), Count: n})
	}
	return out
}
