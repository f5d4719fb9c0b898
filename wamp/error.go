package wamp

import (
	"fmt"
	"strings"
)

// RPCError is a WAMP error as a Go error: the error URI with the ERROR message's
// details, args and kwargs. Clients return it from handlers to answer with that
// URI, and receive it from calls that failed.
type RPCError struct {
	URI     URI
	Details Dict
	Args    []any
	Kwargs  map[string]any
}

func (e *RPCError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.URI))
	if len(e.Args) > 0 {
		fmt.Fprintf(&b, ": %v", e.Args[0])
		for _, a := range e.Args[1:] {
			fmt.Fprintf(&b, ", %v", a)
		}
	}
	return b.String()
}

// Is makes errors.Is(err, &RPCError{URI: u}) match any RPCError with URI u.
func (e *RPCError) Is(target error) bool {
	t, ok := target.(*RPCError)
	return ok && t.URI == e.URI
}

// NewError returns an *RPCError with uri and args.
func NewError(uri URI, args ...any) *RPCError { return &RPCError{URI: uri, Args: args} }
