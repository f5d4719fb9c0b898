package serializers

import (
	"bytes"
	"math"
	"math/big"
	"reflect"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/junction-wamp/junction/wamp"
)

// sameValue reports whether a and b are the same value as WAMP peers see
// it: numbers by value (JSON writes the float 3.0 as 3, which reads back
// as an integer; NaN is NaN), binary apart from strings, maps by their
// entries whatever their Go type.
func sameValue(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && sameNumber(x, y)
	}
	switch x := a.(type) {
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any, wamp.Dict:
		return sameMap(asMap(a), asMap(b))
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case cbor.Tag:
		y, ok := b.(cbor.Tag)
		return ok && x.Number == y.Number && sameValue(x.Content, y.Content)
	}
	return reflect.DeepEqual(a, b)
}

func asMap(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case wamp.Dict:
		return x
	}
	return nil
}

func sameMap(x, y map[string]any) bool {
	if x == nil || y == nil || len(x) != len(y) {
		return x == nil && y == nil
	}
	for k, e := range x {
		f, ok := y[k]
		if !ok || !sameValue(e, f) {
			return false
		}
	}
	return true
}

// num is a number: an exact integer, or a float.
type num struct {
	i     *big.Int
	f     float64
	float bool
}

func number(v any) (num, bool) {
	switch x := v.(type) {
	case int64:
		return num{i: big.NewInt(x)}, true
	case int:
		return num{i: big.NewInt(int64(x))}, true
	case uint64:
		return num{i: new(big.Int).SetUint64(x)}, true
	case big.Int:
		return num{i: &x}, true
	case *big.Int:
		return num{i: x}, true
	case float64:
		return num{f: x, float: true}, true
	case float32:
		return num{f: float64(x), float: true}, true
	}
	return num{}, false
}

func sameNumber(x, y num) bool {
	switch {
	case !x.float && !y.float:
		return x.i.Cmp(y.i) == 0
	case x.float && y.float:
		return x.f == y.f || math.IsNaN(x.f) && math.IsNaN(y.f)
	case x.float:
		x, y = y, x
	}
	// x an integer, y a float: the same if the float is that integer.
	if math.IsNaN(y.f) || math.IsInf(y.f, 0) || y.f != math.Trunc(y.f) {
		return false
	}
	fi, _ := new(big.Float).SetFloat64(y.f).Int(nil)
	return fi.Cmp(x.i) == 0
}

// sameMessage reports whether two messages of possibly different
// serializers are the same: header fields by value, payloads by value
// (or byte for byte when both are raw in one encoding).
func sameMessages(a, b wamp.Message) bool {
	if a.MessageType() != b.MessageType() {
		return false
	}
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		fa, fb := va.Field(i), vb.Field(i)
		switch x := fa.Interface().(type) {
		case wamp.Payload:
			if !samePayload(x, fb.Interface().(wamp.Payload)) {
				return false
			}
		case wamp.Dict:
			y := fb.Interface().(wamp.Dict)
			if len(x) == 0 && len(y) == 0 { // nil and {} are both written {}
				continue
			}
			if !sameValue(x, y) {
				return false
			}
		default:
			if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
				return false
			}
		}
	}
	return true
}

func samePayload(a, b wamp.Payload) bool {
	if a.Transparent != b.Transparent {
		return false
	}
	if a.Encoding == b.Encoding {
		return bytes.Equal(a.RawArgs, b.RawArgs) && bytes.Equal(a.RawKwargs, b.RawKwargs)
	}
	aa, ak, err := DecodePayload(&a)
	if err != nil {
		return false
	}
	ba, bk, err := DecodePayload(&b)
	if err != nil {
		return false
	}
	if a.Transparent {
		return sameValue(aa[0], ba[0])
	}
	// Absent args and [] are written alike when kwargs follow; {} kwargs
	// and none too.
	if len(aa) == 0 && len(ba) == 0 {
		aa, ba = nil, nil
	}
	if len(ak) == 0 && len(bk) == 0 {
		ak, bk = nil, nil
	}
	return sameValue(any(aa), any(ba)) && sameMap(ak, bk)
}
