package router

import (
	"fmt"
	"strings"

	"github.com/junction-wamp/junction/wamp"
)

// optionError is an option of the wrong type or value: a protocol violation
// whose message names the option.
type optionError struct{ msg string }

func (e *optionError) Error() string { return e.msg }

// options reads typed options, keeping the first type error.
type options struct {
	d   wamp.Dict
	msg wamp.MessageType
	err *optionError
}

func (o *options) fail(key, want string, v any) {
	if o.err == nil {
		o.err = &optionError{fmt.Sprintf("%s option %q must be %s, got %T", o.msg, clip(key), want, v)}
	}
}

func (o *options) boolean(key string, def bool) bool {
	v, ok := o.d[key]
	if !ok || v == nil { // JavaScript clients send undefined and null for unset options
		return def
	}
	b, isBool := v.(bool)
	if !isBool {
		o.fail(key, "a bool", v)
	}
	return b
}

func (o *options) str(key string) (string, bool) {
	v, ok := o.d[key]
	if !ok || v == nil { // JavaScript clients send undefined and null for unset options
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		o.fail(key, "a string", v)
	}
	return s, true
}

func oneOf[T ~string](o *options, key string, valid func(T) bool) T {
	s, ok := o.str(key)
	if ok && o.err == nil && !valid(T(s)) {
		o.fail(key, "one of the spec's values", s)
	}
	return T(s)
}

// ids reads a list of session ids; nil when absent.
func (o *options) ids(key string) map[wamp.ID]bool {
	v, ok := o.d[key]
	if !ok || v == nil { // JavaScript clients send undefined and null for unset options
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		o.fail(key, "a list of session ids", v)
		return nil
	}
	out := make(map[wamp.ID]bool, len(list))
	for _, e := range list {
		id, ok := wamp.AsID(e)
		if !ok {
			o.fail(key, "a list of session ids", e)
			return nil
		}
		out[id] = true
	}
	return out
}

// strs reads a list of strings; nil when absent.
func (o *options) strs(key string) map[string]bool {
	v, ok := o.d[key]
	if !ok || v == nil { // JavaScript clients send undefined and null for unset options
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		o.fail(key, "a list of strings", v)
		return nil
	}
	out := make(map[string]bool, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			o.fail(key, "a list of strings", e)
			return nil
		}
		out[s] = true
	}
	return out
}

// passthru checks the options of payload passthru mode.
func (o *options) passthru() {
	if algo, ok := o.str("enc_algo"); ok && o.err == nil &&
		algo != "cryptobox" && algo != "mqtt" && algo != "xbr" && !strings.HasPrefix(algo, "x_") {
		o.fail("enc_algo", `"cryptobox", "mqtt", "xbr" or "x_..."`, algo)
	}
	o.str("enc_serializer")
	o.str("enc_key")
	o.str("ppt_scheme")
	o.str("ppt_serializer")
	o.str("ppt_cipher")
	o.str("ppt_keyid")
}

// routerLinks checks options that router-to-router links and other
// extensions carry through.
func (o *options) routerLinks() {
	if v, ok := o.d["forward_for"]; ok && v != nil {
		if _, isList := v.([]any); !isList {
			o.fail("forward_for", "a list", v)
		}
	}
	o.str("transaction_hash")
}

// timeout reads a timeout in milliseconds (0: none).
func (o *options) millis(key string) int64 {
	v, ok := o.d[key]
	if !ok || v == nil { // JavaScript clients send undefined and null for unset options
		return 0
	}
	n, isInt := wamp.AsInt(v)
	if !isInt || n < 0 {
		o.fail(key, "a non-negative integer (milliseconds)", v)
		return 0
	}
	return n
}
