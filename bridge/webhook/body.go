package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// Request bodies are JSON objects whose args, kwargs and details are
// written by the router's JSON serializer (serializers.EncodePayload):
// binary values in WAMP's JSON convention, a string of "\u0000" and the
// base64 of the bytes.

// eventBody is the body of a subscriber webhook's POST.
type eventBody struct {
	Topic       string          `json:"topic"`
	Publication uint64          `json:"publication"`
	Args        json.RawMessage `json:"args"`
	Kwargs      json.RawMessage `json:"kwargs"`
	Details     json.RawMessage `json:"details"`
}

// callBody is the body of a callee webhook's POST.
type callBody struct {
	Procedure string          `json:"procedure"`
	Args      json.RawMessage `json:"args"`
	Kwargs    json.RawMessage `json:"kwargs"`
	Details   json.RawMessage `json:"details"`
}

// answerBody is a callee endpoint's response: {"args", "kwargs"} with a 2xx
// status, {"error", "args", "kwargs"} with another.
type answerBody struct {
	Progress bool            `json:"progress"` // a progressive result, in an application/x-ndjson answer
	Error    string          `json:"error"`
	Args     json.RawMessage `json:"args"`
	Kwargs   json.RawMessage `json:"kwargs"`
}

// encodeValues returns args, kwargs and details in JSON; an empty args is
// [], an empty kwargs or details {}.
func encodeValues(args []any, kwargs map[string]any, details wamp.Dict) (a, kw, d json.RawMessage, err error) {
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	p, err := serializers.EncodePayload(wamp.EncodingJSON, args, kwargs)
	if err != nil {
		return nil, nil, nil, err
	}
	dp, err := serializers.EncodePayload(wamp.EncodingJSON, nil, map[string]any(details))
	if err != nil {
		return nil, nil, nil, err
	}
	d = dp.RawKwargs
	if d == nil {
		d = json.RawMessage("{}")
	}
	return p.RawArgs, p.RawKwargs, d, nil
}

func encodeEvent(ev *clientlib.Event) ([]byte, error) {
	a, kw, d, err := encodeValues(ev.Args, ev.Kwargs, ev.Details)
	if err != nil {
		return nil, err
	}
	return json.Marshal(eventBody{Topic: ev.Topic, Publication: uint64(ev.Publication), Args: a, Kwargs: kw, Details: d})
}

func encodeCall(inv *clientlib.Invocation) ([]byte, error) {
	a, kw, d, err := encodeValues(inv.Args, inv.Kwargs, inv.Details)
	if err != nil {
		return nil, err
	}
	return json.Marshal(callBody{Procedure: inv.Procedure, Args: a, Kwargs: kw, Details: d})
}

// decodeAnswer parses a callee endpoint's response body. An empty body is
// an empty answer. args must be a list, kwargs a dict, or null or absent;
// their values are decoded by the router's JSON serializer.
func decodeAnswer(body []byte) (*answerBody, []any, map[string]any, error) {
	var ab answerBody
	if len(bytes.TrimSpace(body)) == 0 {
		return &ab, nil, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&ab); err != nil {
		return nil, nil, nil, fmt.Errorf("not a JSON object {\"args\": [...], \"kwargs\": {...}}: %w", err)
	}
	if dec.More() {
		return nil, nil, nil, fmt.Errorf("data after the JSON object")
	}
	p := wamp.Payload{Encoding: wamp.EncodingJSON}
	if len(ab.Args) > 0 && string(ab.Args) != "null" {
		p.RawArgs = ab.Args
	}
	if len(ab.Kwargs) > 0 && string(ab.Kwargs) != "null" {
		p.RawKwargs = ab.Kwargs
	}
	args, kwargs, err := serializers.DecodePayload(&p)
	if err != nil {
		return nil, nil, nil, err
	}
	return &ab, args, kwargs, nil
}
