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
	var err error
	keep := func(e error) {
		if err == nil {
			err = e
		}
	}
	t := m.MessageType()
	head := func(n int) { w.begin(n); w.integer(int64(t)) }
	dict := func(part string, d wamp.Dict) { keep(forPart(w.dict(d), part, w.payload().own)) }
	tail := func(p *wamp.Payload) {
		if n := len(p.RawArgs) + len(p.RawKwargs); n > 0 {
			w.grow(n)
		}
		switch payloadLen(p) {
		case 1:
			keep(writeArgs(w, p))
		case 2:
			keep(writeArgs(w, p))
			keep(writeKwargs(w, p))
		}
	}
	switch m := m.(type) {
	case *wamp.Hello:
		head(3)
		w.str(string(m.Realm))
		dict("details", m.Details)
	case *wamp.Welcome:
		head(3)
		w.id(m.Session)
		dict("details", m.Details)
	case *wamp.Abort:
		head(3)
		dict("details", m.Details)
		w.str(string(m.Reason))
	case *wamp.Challenge:
		head(3)
		w.str(m.AuthMethod)
		dict("extra", m.Extra)
	case *wamp.Authenticate:
		head(3)
		w.str(m.Signature)
		dict("extra", m.Extra)
	case *wamp.Goodbye:
		head(3)
		dict("details", m.Details)
		w.str(string(m.Reason))
	case *wamp.Error:
		head(5 + payloadLen(&m.Payload))
		w.integer(int64(m.Type))
		w.id(m.Request)
		dict("details", m.Details)
		w.str(string(m.Error))
		tail(&m.Payload)
	case *wamp.Publish:
		head(4 + payloadLen(&m.Payload))
		w.id(m.Request)
		dict("options", m.Options)
		w.str(string(m.Topic))
		tail(&m.Payload)
	case *wamp.Published:
		head(3)
		w.id(m.Request)
		w.id(m.Publication)
	case *wamp.Subscribe:
		head(4)
		w.id(m.Request)
		dict("options", m.Options)
		w.str(string(m.Topic))
	case *wamp.Subscribed:
		head(3)
		w.id(m.Request)
		w.id(m.Subscription)
	case *wamp.Unsubscribe:
		head(3)
		w.id(m.Request)
		w.id(m.Subscription)
	case *wamp.Unsubscribed:
		if len(m.Details) > 0 {
			head(3)
			w.id(m.Request)
			dict("details", m.Details)
		} else {
			head(2)
			w.id(m.Request)
		}
	case *wamp.Event:
		head(4 + payloadLen(&m.Payload))
		w.id(m.Subscription)
		w.id(m.Publication)
		dict("details", m.Details)
		tail(&m.Payload)
	case *wamp.Call:
		head(4 + payloadLen(&m.Payload))
		w.id(m.Request)
		dict("options", m.Options)
		w.str(string(m.Procedure))
		tail(&m.Payload)
	case *wamp.Cancel:
		head(3)
		w.id(m.Request)
		dict("options", m.Options)
	case *wamp.Result:
		head(3 + payloadLen(&m.Payload))
		w.id(m.Request)
		dict("details", m.Details)
		tail(&m.Payload)
	case *wamp.Register:
		head(4)
		w.id(m.Request)
		dict("options", m.Options)
		w.str(string(m.Procedure))
	case *wamp.Registered:
		head(3)
		w.id(m.Request)
		w.id(m.Registration)
	case *wamp.Unregister:
		head(3)
		w.id(m.Request)
		w.id(m.Registration)
	case *wamp.Unregistered:
		if len(m.Details) > 0 {
			head(3)
			w.id(m.Request)
			dict("details", m.Details)
		} else {
			head(2)
			w.id(m.Request)
		}
	case *wamp.Invocation:
		head(4 + payloadLen(&m.Payload))
		w.id(m.Request)
		w.id(m.Registration)
		dict("details", m.Details)
		tail(&m.Payload)
	case *wamp.Interrupt:
		head(3)
		w.id(m.Request)
		dict("options", m.Options)
	case *wamp.EventReceived:
		head(2)
		w.id(m.Publication)
	case *wamp.Yield:
		head(3 + payloadLen(&m.Payload))
		w.id(m.Request)
		dict("options", m.Options)
		tail(&m.Payload)
	default:
		return nil, fmt.Errorf("serializers: cannot encode %T", m)
	}
	if err != nil {
		return nil, fmt.Errorf("serializers: encoding %s: %w", t, err)
	}
	return w.finish()
}
