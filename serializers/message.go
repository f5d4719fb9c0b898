package serializers

import (
	"fmt"

	"github.com/junction-wamp/junction/wamp"
)

// elemReader reads the elements of one message's top-level list in order.
type elemReader interface {
	remaining() int
	id() (wamp.ID, error)
	integer() (int64, error)
	str() (string, error)
	dict() (wamp.Dict, error)
	rawList() ([]byte, error)  // an encoded list, kept as bytes
	rawDict() ([]byte, error)  // an encoded dict, kept as bytes
	rawValue() ([]byte, error) // any encoded value, kept as bytes
}

// elemWriter writes the elements of one message's top-level list in order.
type elemWriter interface {
	begin(n int)
	id(v wamp.ID)
	integer(v int64)
	str(s string)
	dict(d wamp.Dict) error
	raw(b []byte)      // an element already encoded in the writer's encoding
	value(v any) error // a Go value
	payload() *payloadWriter
	grow(n int) // n more bytes are coming: a large payload is copied once, not regrown
	finish() ([]byte, error)
}

// writeArgs writes Arguments|list: raw bytes of the writer's own encoding
// spliced, anything else as values.
func writeArgs(w elemWriter, p *wamp.Payload) error {
	part := "args"
	if p.Transparent {
		part = "payload"
	}
	raw, v, err := w.payload().argsOf(p)
	if err == nil && raw != nil {
		w.raw(raw)
		return nil
	}
	if err == nil {
		err = w.value(v)
	}
	return forPart(err, part, w.payload().own)
}

// writeKwargs writes ArgumentsKw|dict the same way.
func writeKwargs(w elemWriter, p *wamp.Payload) error {
	raw, v, err := w.payload().kwargsOf(p)
	if err == nil && raw != nil {
		w.raw(raw)
		return nil
	}
	if err == nil {
		if v == nil {
			v = map[string]any{}
		}
		err = w.value(v)
	}
	return forPart(err, "kwargs", w.payload().own)
}

// arity is the [min, max] number of elements of each message type.
var arity = map[wamp.MessageType][2]int{
	wamp.HELLO: {3, 3}, wamp.WELCOME: {3, 3}, wamp.ABORT: {3, 3}, wamp.CHALLENGE: {3, 3},
	wamp.AUTHENTICATE: {3, 3}, wamp.GOODBYE: {3, 3}, wamp.ERROR: {5, 7},
	wamp.PUBLISH: {4, 6}, wamp.PUBLISHED: {3, 3}, wamp.SUBSCRIBE: {4, 4}, wamp.SUBSCRIBED: {3, 3},
	wamp.UNSUBSCRIBE: {3, 3}, wamp.UNSUBSCRIBED: {2, 3}, wamp.EVENT: {4, 6},
	wamp.CALL: {4, 6}, wamp.CANCEL: {3, 3}, wamp.RESULT: {3, 5}, wamp.REGISTER: {4, 4},
	wamp.REGISTERED: {3, 3}, wamp.UNREGISTER: {3, 3}, wamp.UNREGISTERED: {2, 3},
	wamp.INVOCATION: {4, 6}, wamp.INTERRUPT: {3, 3}, wamp.YIELD: {3, 5}, wamp.EVENT_RECEIVED: {2, 2},
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// decodeMessage reads a message from r, whose total length is n.
func decodeMessage(r elemReader, n int, enc wamp.Encoding) (wamp.Message, error) {
	if n == 0 {
		return nil, malformed("empty list")
	}
	code, err := r.integer()
	if err != nil {
		return nil, malformed("message type: %v", err)
	}
	t := wamp.MessageType(code)
	ar, ok := arity[t]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, code)
	}
	if n < ar[0] || n > ar[1] {
		return nil, malformed("%s with %d elements, want %d to %d", t, n, ar[0], ar[1])
	}
	d := decoder{r: r, enc: enc}
	m := d.message(t)
	if d.err != nil {
		return nil, malformed("%s: %v", t, d.err)
	}
	return m, nil
}

// decoder reads typed elements, keeping the first error.
type decoder struct {
	r   elemReader
	enc wamp.Encoding
	err error
	ppt bool // the last dict asked for payload passthru mode
}

func (d *decoder) id() wamp.ID {
	if d.err != nil {
		return 0
	}
	v, err := d.r.id()
	d.err = err
	return v
}

func (d *decoder) uri() wamp.URI { return wamp.URI(d.str()) }

func (d *decoder) str() string {
	if d.err != nil {
		return ""
	}
	v, err := d.r.str()
	d.err = err
	return v
}

func (d *decoder) dict() wamp.Dict {
	if d.err != nil {
		return nil
	}
	v, err := d.r.dict()
	d.err = err
	_, enc := v["enc_algo"]
	_, ppt := v["ppt_scheme"]
	d.ppt = enc || ppt
	return v
}

func (d *decoder) msgType() wamp.MessageType {
	if d.err != nil {
		return 0
	}
	v, err := d.r.integer()
	if err == nil && !wamp.MessageType(v).Known() {
		err = fmt.Errorf("unknown request type %d", v)
	}
	d.err = err
	return wamp.MessageType(v)
}

// payload reads the optional trailing Arguments|list and ArgumentsKw|dict.
func (d *decoder) payload() wamp.Payload {
	p := wamp.Payload{Encoding: d.enc}
	if d.err != nil || d.r.remaining() == 0 {
		return p
	}
	if d.ppt {
		p.Transparent = true
		p.RawArgs, d.err = d.r.rawValue()
		if d.err == nil && d.r.remaining() > 0 {
			d.err = fmt.Errorf("a transparent payload (payload passthru mode) has no ArgumentsKw")
		}
		return p
	}
	p.RawArgs, d.err = d.r.rawList()
	if d.err != nil || d.r.remaining() == 0 {
		return p
	}
	p.RawKwargs, d.err = d.r.rawDict()
	return p
}

func (d *decoder) message(t wamp.MessageType) wamp.Message {
	switch t {
	case wamp.HELLO:
		return &wamp.Hello{Realm: d.uri(), Details: d.dict()}
	case wamp.WELCOME:
		return &wamp.Welcome{Session: d.id(), Details: d.dict()}
	case wamp.ABORT:
		return &wamp.Abort{Details: d.dict(), Reason: d.uri()}
	case wamp.CHALLENGE:
		return &wamp.Challenge{AuthMethod: d.str(), Extra: d.dict()}
	case wamp.AUTHENTICATE:
		return &wamp.Authenticate{Signature: d.str(), Extra: d.dict()}
	case wamp.GOODBYE:
		return &wamp.Goodbye{Details: d.dict(), Reason: d.uri()}
	case wamp.ERROR:
		return &wamp.Error{Type: d.msgType(), Request: d.id(), Details: d.dict(), Error: d.uri(), Payload: d.payload()}
	case wamp.PUBLISH:
		return &wamp.Publish{Request: d.id(), Options: d.dict(), Topic: d.uri(), Payload: d.payload()}
	case wamp.PUBLISHED:
		return &wamp.Published{Request: d.id(), Publication: d.id()}
	case wamp.SUBSCRIBE:
		return &wamp.Subscribe{Request: d.id(), Options: d.dict(), Topic: d.uri()}
	case wamp.SUBSCRIBED:
		return &wamp.Subscribed{Request: d.id(), Subscription: d.id()}
	case wamp.UNSUBSCRIBE:
		return &wamp.Unsubscribe{Request: d.id(), Subscription: d.id()}
	case wamp.UNSUBSCRIBED:
		m := &wamp.Unsubscribed{Request: d.id()}
		if d.r.remaining() > 0 {
			m.Details = d.dict()
		}
		return m
	case wamp.EVENT:
		return &wamp.Event{Subscription: d.id(), Publication: d.id(), Details: d.dict(), Payload: d.payload()}
	case wamp.CALL:
		return &wamp.Call{Request: d.id(), Options: d.dict(), Procedure: d.uri(), Payload: d.payload()}
	case wamp.CANCEL:
		return &wamp.Cancel{Request: d.id(), Options: d.dict()}
	case wamp.RESULT:
		return &wamp.Result{Request: d.id(), Details: d.dict(), Payload: d.payload()}
	case wamp.REGISTER:
		return &wamp.Register{Request: d.id(), Options: d.dict(), Procedure: d.uri()}
	case wamp.REGISTERED:
		return &wamp.Registered{Request: d.id(), Registration: d.id()}
	case wamp.UNREGISTER:
		return &wamp.Unregister{Request: d.id(), Registration: d.id()}
	case wamp.UNREGISTERED:
		m := &wamp.Unregistered{Request: d.id()}
		if d.r.remaining() > 0 {
			m.Details = d.dict()
		}
		return m
	case wamp.INVOCATION:
		return &wamp.Invocation{Request: d.id(), Registration: d.id(), Details: d.dict(), Payload: d.payload()}
	case wamp.INTERRUPT:
		return &wamp.Interrupt{Request: d.id(), Options: d.dict()}
	case wamp.EVENT_RECEIVED:
		return &wamp.EventReceived{Publication: d.id()}
	case wamp.YIELD:
		return &wamp.Yield{Request: d.id(), Options: d.dict(), Payload: d.payload()}
	}
	return nil
}

// payloadLen is how many payload elements p needs: none, args, or args and kwargs.
func payloadLen(p *wamp.Payload) int {
	if p.Transparent {
		return 1
	}
	if p.Encoding == wamp.EncodingNone {
		switch {
		case p.Kwargs != nil:
			return 2
		case p.Args != nil:
			return 1
		}
		return 0
	}
	switch {
	case p.RawKwargs != nil:
		return 2
	case p.RawArgs != nil:
		return 1
	}
	return 0
}

// encodeMessage writes m to w.
func encodeMessage(w elemWriter, m wamp.Message) ([]byte, error) {
	e := encoder{w: w, t: m.MessageType()}
	if !e.message(m) {
		return nil, fmt.Errorf("serializers: cannot encode %T", m)
	}
	if e.err != nil {
		return nil, fmt.Errorf("serializers: encoding %s: %w", e.t, e.err)
	}
	return w.finish()
}

// encoder writes typed elements, keeping the first error: the decoder's
// counterpart.
type encoder struct {
	w   elemWriter
	t   wamp.MessageType
	err error
}

// head begins a message of n elements (and its payload's) with its type.
func (e *encoder) head(n int, p *wamp.Payload) *encoder {
	if p != nil {
		n += payloadLen(p)
	}
	e.w.begin(n)
	e.w.integer(int64(e.t))
	return e
}

func (e *encoder) id(v wamp.ID) *encoder { e.w.id(v); return e }

func (e *encoder) uri(u wamp.URI) *encoder { e.w.str(string(u)); return e }

func (e *encoder) str(s string) *encoder { e.w.str(s); return e }

func (e *encoder) msgType(t wamp.MessageType) *encoder { e.w.integer(int64(t)); return e }

func (e *encoder) keep(err error) {
	if e.err == nil {
		e.err = err
	}
}

// dict writes d, the part of the message called part.
func (e *encoder) dict(part string, d wamp.Dict) *encoder {
	e.keep(forPart(e.w.dict(d), part, e.w.payload().own))
	return e
}

// optDict writes d if it is not empty (UNSUBSCRIBED and UNREGISTERED).
func (e *encoder) optDict(part string, d wamp.Dict) {
	if len(d) > 0 {
		e.dict(part, d)
	}
}

// optLen is 1 for a dict optDict writes, else 0.
func optLen(d wamp.Dict) int {
	if len(d) > 0 {
		return 1
	}
	return 0
}

// payload writes the trailing Arguments|list and ArgumentsKw|dict p needs.
func (e *encoder) payload(p *wamp.Payload) {
	if n := len(p.RawArgs) + len(p.RawKwargs); n > 0 {
		e.w.grow(n)
	}
	switch payloadLen(p) {
	case 1:
		e.keep(writeArgs(e.w, p))
	case 2:
		e.keep(writeArgs(e.w, p))
		e.keep(writeKwargs(e.w, p))
	}
}

// message writes m, a line per message type as the decoder reads them; it
// reports false for a type it does not know.
func (e *encoder) message(m wamp.Message) bool {
	switch m := m.(type) {
	case *wamp.Hello:
		e.head(3, nil).uri(m.Realm).dict("details", m.Details)
	case *wamp.Welcome:
		e.head(3, nil).id(m.Session).dict("details", m.Details)
	case *wamp.Abort:
		e.head(3, nil).dict("details", m.Details).uri(m.Reason)
	case *wamp.Challenge:
		e.head(3, nil).str(m.AuthMethod).dict("extra", m.Extra)
	case *wamp.Authenticate:
		e.head(3, nil).str(m.Signature).dict("extra", m.Extra)
	case *wamp.Goodbye:
		e.head(3, nil).dict("details", m.Details).uri(m.Reason)
	case *wamp.Error:
		e.head(5, &m.Payload).msgType(m.Type).id(m.Request).dict("details", m.Details).uri(m.Error).payload(&m.Payload)
	case *wamp.Publish:
		e.head(4, &m.Payload).id(m.Request).dict("options", m.Options).uri(m.Topic).payload(&m.Payload)
	case *wamp.Published:
		e.head(3, nil).id(m.Request).id(m.Publication)
	case *wamp.Subscribe:
		e.head(4, nil).id(m.Request).dict("options", m.Options).uri(m.Topic)
	case *wamp.Subscribed:
		e.head(3, nil).id(m.Request).id(m.Subscription)
	case *wamp.Unsubscribe:
		e.head(3, nil).id(m.Request).id(m.Subscription)
	case *wamp.Unsubscribed:
		e.head(2+optLen(m.Details), nil).id(m.Request).optDict("details", m.Details)
	case *wamp.Event:
		e.head(4, &m.Payload).id(m.Subscription).id(m.Publication).dict("details", m.Details).payload(&m.Payload)
	case *wamp.Call:
		e.head(4, &m.Payload).id(m.Request).dict("options", m.Options).uri(m.Procedure).payload(&m.Payload)
	case *wamp.Cancel:
		e.head(3, nil).id(m.Request).dict("options", m.Options)
	case *wamp.Result:
		e.head(3, &m.Payload).id(m.Request).dict("details", m.Details).payload(&m.Payload)
	case *wamp.Register:
		e.head(4, nil).id(m.Request).dict("options", m.Options).uri(m.Procedure)
	case *wamp.Registered:
		e.head(3, nil).id(m.Request).id(m.Registration)
	case *wamp.Unregister:
		e.head(3, nil).id(m.Request).id(m.Registration)
	case *wamp.Unregistered:
		e.head(2+optLen(m.Details), nil).id(m.Request).optDict("details", m.Details)
	case *wamp.Invocation:
		e.head(4, &m.Payload).id(m.Request).id(m.Registration).dict("details", m.Details).payload(&m.Payload)
	case *wamp.Interrupt:
		e.head(3, nil).id(m.Request).dict("options", m.Options)
	case *wamp.EventReceived:
		e.head(2, nil).id(m.Publication)
	case *wamp.Yield:
		e.head(3, &m.Payload).id(m.Request).dict("options", m.Options).payload(&m.Payload)
	default:
		return false
	}
	return true
}
