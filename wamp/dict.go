package wamp

import "math"

// Dict is a WAMP dictionary: HELLO/WELCOME details, options, event details.
// Values are whatever the serializer decoded: numbers may arrive as any Go
// integer or float type, so read them with the accessors below.
type Dict map[string]any

// Bool returns d[key] if it is a bool, else def.
func (d Dict) Bool(key string, def bool) bool {
	if b, ok := d[key].(bool); ok {
		return b
	}
	return def
}

// String returns d[key] if it is a string, else "".
func (d Dict) String(key string) string {
	s, _ := d[key].(string)
	return s
}

// Dict returns d[key] as a Dict if it is a string-keyed map, else nil.
func (d Dict) Dict(key string) Dict { return AsDict(d[key]) }

// Int returns d[key] as an int64 if it holds an integral number.
func (d Dict) Int(key string) (int64, bool) { return AsInt(d[key]) }

// AsDict converts the map types serializers decode to a Dict; nil if v is not a map
// with string keys.
func AsDict(v any) Dict {
	switch m := v.(type) {
	case Dict:
		return m
	case map[string]any:
		return Dict(m)
	case map[any]any:
		out := make(Dict, len(m))
		for k, val := range m {
			ks, ok := k.(string)
			if !ok {
				return nil
			}
			out[ks] = val
		}
		return out
	}
	return nil
}

// AsInt converts any Go number type holding an integral value to int64.
func AsInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), n <= math.MaxInt64
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	case float32:
		return int64(n), float32(int64(n)) == n
	case float64:
		return int64(n), n == math.Trunc(n) && math.Abs(n) < 1<<63
	}
	return 0, false
}

// AsID converts a decoded number to an ID; ok is false if it is not an integer in [0, 2^53].
func AsID(v any) (ID, bool) {
	n, ok := AsInt(v)
	if !ok || n < 0 || n > int64(MaxID) {
		return 0, false
	}
	return ID(n), true
}
