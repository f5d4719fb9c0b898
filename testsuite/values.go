package testsuite

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
)

// Normalize maps a decoded WAMP value to a canonical Go form, whatever client
// library decoded it: every number is float64, binary is []byte (JSON's
// "\u0000"+base64 convention included), lists are []any and dicts
// map[string]any.
func Normalize(v any) any {
	if v == nil {
		return nil
	}
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		if strings.HasPrefix(x, "\x00") {
			if b, err := base64.StdEncoding.DecodeString(x[1:]); err == nil {
				return b
			}
		}
		return x
	case bool:
		return x
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.String:
		return Normalize(rv.String())
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return rv.Bytes()
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = Normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		for _, k := range rv.MapKeys() {
			out[fmt.Sprint(k.Interface())] = Normalize(rv.MapIndex(k).Interface())
		}
		return out
	}
	return v
}

// Equal compares two values after Normalize. An empty list or dict equals nil,
// since WAMP does not distinguish absent args from empty ones.
func Equal(a, b any) bool {
	na, nb := Normalize(a), Normalize(b)
	if empty(na) && empty(nb) {
		return true
	}
	return reflect.DeepEqual(na, nb)
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
