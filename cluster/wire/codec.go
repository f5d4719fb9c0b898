package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/junction-wamp/junction/serializers"
)

// The binary format of an Envelope, written and read field by field
// without reflection (the hot kinds, KindFrame, KindAnswer and
// KindPublish, cost one append per field):
//
//	envelope = Version kind body
//	body     = { tag value }          fields that are not zero, tags ascending
//
// A tag is one byte naming the field and so its type:
//
//	uint     uvarint
//	int      zigzag varint
//	bool     nothing: present means true
//	string   uvarint length, bytes
//	bytes    uvarint length, bytes
//	uints    uvarint count, uvarints
//	strings  uvarint count, strings
//	any      uvarint length, msgpack (Roles, Args, Kwargs, Options: decoded
//	         within serializers.CheckMsgpack's bounds)
//	items    uvarint count, each a uvarint length and a body of kind, fields
//
// Decode checks every length and count against the bytes left before it
// allocates, and bounds the nesting of Items, so what a message makes a
// node allocate is bounded by its size. A field this version does not know
// is an error (nodes of a cluster run the same version), and so is a field
// out of order or twice.

// Version is the first byte of every encoded Envelope. A node refuses
// envelopes of another version (Decode returns an error saying so).
const Version byte = 0xb1

// maxItemDepth bounds the nesting of Items (a snapshot's items hold none).
const maxItemDepth = 2

// Field tags.
const (
	tRealm byte = iota + 1
	tSession
	tAuthID
	tAuthRole
	tAuthMethod
	tAuthProvider
	tSerializer
	tRoles
	tJoined
	tTransport
	tProcedure
	tMatch
	tInvoke
	tRegistration
	tDiscloseCaller
	tForwardTimeout
	tTopic
	tOn
	tSubscription
	tFrame
	tBinary
	tRequest
	tCode
	tReason
	tPublication
	tDisclose
	tRetain
	tStoreOnly
	tTime
	tExclude
	tEligible
	tExcludeAuthID
	tEligibleAuthID
	tExcludeAuthRole
	tEligibleAuthRole
	tScope
	tArgs
	tKwargs
	tOptions
	tItems
	tSum
	tRetainedSum
	tRequests
	tSessions
	tReply
	tMore
	tLast // not a field: one past the last tag
)

// Encode encodes e.
func Encode(e *Envelope) ([]byte, error) {
	b := make([]byte, 0, e.sizeHint())
	return e.appendBody(append(b, Version), 0)
}

// sizeHint is about what the hot kinds take encoded (a guess for others).
func (e *Envelope) sizeHint() int {
	return 48 + len(e.Realm) + len(e.Topic) + len(e.Serializer) + len(e.AuthID) + len(e.AuthRole) + len(e.Frame)
}

func (e *Envelope) appendBody(b []byte, depth int) ([]byte, error) {
	b = append(b, byte(e.Kind))
	b = appendString(b, tRealm, e.Realm)
	b = appendUint(b, tSession, e.Session)
	b = appendString(b, tAuthID, e.AuthID)
	b = appendString(b, tAuthRole, e.AuthRole)
	b = appendString(b, tAuthMethod, e.AuthMethod)
	b = appendString(b, tAuthProvider, e.AuthProvider)
	b = appendString(b, tSerializer, e.Serializer)
	var err error
	if len(e.Roles) > 0 {
		if b, err = appendAny(b, tRoles, e.Roles); err != nil {
			return nil, err
		}
	}
	b = appendInt(b, tJoined, e.Joined)
	b = appendString(b, tTransport, e.Transport)
	b = appendString(b, tProcedure, e.Procedure)
	b = appendString(b, tMatch, e.Match)
	b = appendString(b, tInvoke, e.Invoke)
	b = appendUint(b, tRegistration, e.Registration)
	b = appendBool(b, tDiscloseCaller, e.DiscloseCaller)
	b = appendBool(b, tForwardTimeout, e.ForwardTimeout)
	b = appendString(b, tTopic, e.Topic)
	b = appendBool(b, tOn, e.On)
	b = appendUint(b, tSubscription, e.Subscription)
	if len(e.Frame) > 0 {
		b = binary.AppendUvarint(append(b, tFrame), uint64(len(e.Frame)))
		b = append(b, e.Frame...)
	}
	b = appendBool(b, tBinary, e.Binary)
	b = appendUint(b, tRequest, e.Request)
	b = appendInt(b, tCode, int64(e.Code))
	b = appendString(b, tReason, e.Reason)
	b = appendUint(b, tPublication, e.Publication)
	b = appendBool(b, tDisclose, e.Disclose)
	b = appendBool(b, tRetain, e.Retain)
	b = appendBool(b, tStoreOnly, e.StoreOnly)
	b = appendInt(b, tTime, e.Time)
	b = appendUints(b, tExclude, e.Exclude)
	b = appendUints(b, tEligible, e.Eligible)
	b = appendStrings(b, tExcludeAuthID, e.ExcludeAuthID)
	b = appendStrings(b, tEligibleAuthID, e.EligibleAuthID)
	b = appendStrings(b, tExcludeAuthRole, e.ExcludeAuthRole)
	b = appendStrings(b, tEligibleAuthRole, e.EligibleAuthRole)
	b = appendString(b, tScope, e.Scope)
	if len(e.Args) > 0 {
		if b, err = appendAny(b, tArgs, e.Args); err != nil {
			return nil, err
		}
	}
	if len(e.Kwargs) > 0 {
		if b, err = appendAny(b, tKwargs, e.Kwargs); err != nil {
			return nil, err
		}
	}
	if len(e.Options) > 0 {
		if b, err = appendAny(b, tOptions, e.Options); err != nil {
			return nil, err
		}
	}
	if len(e.Items) > 0 {
		if depth >= maxItemDepth {
			return nil, fmt.Errorf("wire: items nested deeper than %d levels", maxItemDepth)
		}
		b = binary.AppendUvarint(append(b, tItems), uint64(len(e.Items)))
		for _, it := range e.Items {
			if it == nil {
				it = &Envelope{}
			}
			// Length first: encode into b after a placeholder of the
			// largest uvarint, then move the body back over the unused
			// part of it.
			at := len(b)
			b = append(b, make([]byte, binary.MaxVarintLen64)...)
			if b, err = it.appendBody(b, depth+1); err != nil {
				return nil, err
			}
			size := len(b) - at - binary.MaxVarintLen64
			n := binary.PutUvarint(b[at:], uint64(size))
			copy(b[at+n:], b[at+binary.MaxVarintLen64:])
			b = b[:at+n+size]
		}
	}
	b = appendUint(b, tSum, e.Sum)
	b = appendUint(b, tRetainedSum, e.RetainedSum)
	b = appendUints(b, tRequests, e.Requests)
	b = appendUints(b, tSessions, e.Sessions)
	b = appendBool(b, tReply, e.Reply)
	b = appendBool(b, tMore, e.More)
	return b, nil
}

func appendUint(b []byte, tag byte, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(append(b, tag), v)
}

func appendInt(b []byte, tag byte, v int64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendVarint(append(b, tag), v)
}

func appendBool(b []byte, tag byte, v bool) []byte {
	if !v {
		return b
	}
	return append(b, tag)
}

func appendString(b []byte, tag byte, s string) []byte {
	if s == "" {
		return b
	}
	b = binary.AppendUvarint(append(b, tag), uint64(len(s)))
	return append(b, s...)
}

func appendUints(b []byte, tag byte, vs []uint64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = binary.AppendUvarint(append(b, tag), uint64(len(vs)))
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func appendStrings(b []byte, tag byte, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = binary.AppendUvarint(append(b, tag), uint64(len(ss)))
	for _, s := range ss {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// appendAny appends v as msgpack (the few fields whose values are of any
// type; none is on the hot path).
func appendAny(b []byte, tag byte, v any) ([]byte, error) {
	data, err := msgpack.Marshal(v)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(append(b, tag), uint64(len(data)))
	return append(b, data...), nil
}

// Decode decodes a message of another node. The Envelope shares nothing
// with data.
func Decode(data []byte) (*Envelope, error) {
	e := new(Envelope)
	if err := DecodeInto(e, data); err != nil {
		return nil, err
	}
	return e, nil
}

// DecodeInto is Decode into e, which must be zero (a receiver that keeps
// the Envelopes of the hot kinds in a pool saves allocating one per
// message). On an error, e holds part of the message.
func DecodeInto(e *Envelope, data []byte) error {
	if len(data) == 0 {
		return errors.New("wire: empty message")
	}
	if data[0] != Version {
		return fmt.Errorf("wire: format version %#x, this node speaks %#x: every node must run the same cluster protocol", data[0], Version)
	}
	return e.decodeBody(data[1:], 0)
}

// errTruncated: a length, count or number runs past the end.
var errTruncated = errors.New("wire: truncated message")

// reader reads the fields of a body.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns the next length-prefixed bytes, sharing r's.
func (r *reader) bytes() []byte {
	size := r.uint()
	if r.err != nil {
		return nil
	}
	if size > uint64(len(r.b)) {
		r.fail(errTruncated)
		return nil
	}
	v := r.b[:size:size]
	r.b = r.b[size:]
	return v
}

func (r *reader) string() string { return string(r.bytes()) }

// count reads a count of elements taking at least one byte each.
func (r *reader) count() int {
	c := r.uint()
	if r.err == nil && c > uint64(len(r.b)) {
		r.fail(fmt.Errorf("wire: %d elements declared, %d bytes left", c, len(r.b)))
		return 0
	}
	return int(c)
}

func (r *reader) uints() []uint64 {
	c := r.count()
	if c == 0 {
		return nil
	}
	vs := make([]uint64, c)
	for i := range vs {
		vs[i] = r.uint()
	}
	return vs
}

func (r *reader) strings() []string {
	c := r.count()
	if c == 0 {
		return nil
	}
	ss := make([]string, c)
	for i := range ss {
		ss[i] = r.string()
	}
	return ss
}

// anyList and anyMap decode a msgpack value within CheckMsgpack's bounds.
// Empty is nil, as Encode leaves it out.
func (r *reader) anyList() []any {
	var v []any
	if r.any(&v); len(v) == 0 {
		return nil
	}
	return v
}

func (r *reader) anyMap() map[string]any {
	var v map[string]any
	if r.any(&v); len(v) == 0 {
		return nil
	}
	return v
}

// any decodes a msgpack value into v, which points to a zero value (the
// decoder panics filling a slice it did not make).
func (r *reader) any(v any) {
	data := r.bytes()
	if r.err != nil {
		return
	}
	if err := serializers.CheckMsgpack(data); err != nil {
		r.fail(err)
		return
	}
	d := msgpack.NewDecoder(bytes.NewReader(data))
	d.UseLooseInterfaceDecoding(true) // integers as int64/uint64, as the rest of the router expects
	if err := d.Decode(v); err != nil {
		r.fail(err)
	}
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (e *Envelope) decodeBody(data []byte, depth int) error {
	if len(data) == 0 {
		return errTruncated
	}
	e.Kind = Kind(data[0])
	r := &reader{b: data[1:]}
	last := byte(0)
	for len(r.b) > 0 && r.err == nil {
		tag := r.b[0]
		r.b = r.b[1:]
		if tag <= last {
			return fmt.Errorf("wire: field %d after field %d", tag, last)
		}
		last = tag
		switch tag {
		case tRealm:
			e.Realm = r.string()
		case tSession:
			e.Session = r.uint()
		case tAuthID:
			e.AuthID = r.string()
		case tAuthRole:
			e.AuthRole = r.string()
		case tAuthMethod:
			e.AuthMethod = r.string()
		case tAuthProvider:
			e.AuthProvider = r.string()
		case tSerializer:
			e.Serializer = r.string()
		case tRoles:
			e.Roles = r.anyMap()
		case tJoined:
			e.Joined = r.int()
		case tTransport:
			e.Transport = r.string()
		case tProcedure:
			e.Procedure = r.string()
		case tMatch:
			e.Match = r.string()
		case tInvoke:
			e.Invoke = r.string()
		case tRegistration:
			e.Registration = r.uint()
		case tDiscloseCaller:
			e.DiscloseCaller = true
		case tForwardTimeout:
			e.ForwardTimeout = true
		case tTopic:
			e.Topic = r.string()
		case tOn:
			e.On = true
		case tSubscription:
			e.Subscription = r.uint()
		case tFrame:
			if f := r.bytes(); len(f) > 0 {
				e.Frame = bytes.Clone(f)
			}
		case tBinary:
			e.Binary = true
		case tRequest:
			e.Request = r.uint()
		case tCode:
			c := r.int()
			if c < math.MinInt32 || c > math.MaxInt32 {
				r.fail(fmt.Errorf("wire: close code %d out of range", c))
			}
			e.Code = int(c)
		case tReason:
			e.Reason = r.string()
		case tPublication:
			e.Publication = r.uint()
		case tDisclose:
			e.Disclose = true
		case tRetain:
			e.Retain = true
		case tStoreOnly:
			e.StoreOnly = true
		case tTime:
			e.Time = r.int()
		case tExclude:
			e.Exclude = r.uints()
		case tEligible:
			e.Eligible = r.uints()
		case tExcludeAuthID:
			e.ExcludeAuthID = r.strings()
		case tEligibleAuthID:
			e.EligibleAuthID = r.strings()
		case tExcludeAuthRole:
			e.ExcludeAuthRole = r.strings()
		case tEligibleAuthRole:
			e.EligibleAuthRole = r.strings()
		case tScope:
			e.Scope = r.string()
		case tArgs:
			e.Args = r.anyList()
		case tKwargs:
			e.Kwargs = r.anyMap()
		case tOptions:
			e.Options = r.anyMap()
		case tItems:
			e.Items = r.items(depth)
		case tSum:
			e.Sum = r.uint()
		case tRetainedSum:
			e.RetainedSum = r.uint()
		case tRequests:
			e.Requests = r.uints()
		case tSessions:
			e.Sessions = r.uints()
		case tReply:
			e.Reply = true
		case tMore:
			e.More = true
		default:
			r.fail(fmt.Errorf("wire: unknown field %d", tag))
		}
	}
	return r.err
}

// items decodes the Items of an envelope at depth.
func (r *reader) items(depth int) []*Envelope {
	if depth >= maxItemDepth {
		r.fail(fmt.Errorf("wire: items nested deeper than %d levels", maxItemDepth))
		return nil
	}
	c := r.count()
	if c == 0 {
		return nil
	}
	items := make([]*Envelope, c)
	for i := range items {
		body := r.bytes()
		if r.err != nil {
			return nil
		}
		items[i] = new(Envelope)
		if err := items[i].decodeBody(body, depth+1); err != nil {
			r.fail(err)
			return nil
		}
	}
	return items
}
