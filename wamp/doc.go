// Package wamp is Junction's vocabulary of the WAMP v2 protocol: message types
// (one struct per message), IDs, URIs, the wamp.error.* and wamp.close.* URIs,
// roles and features, and the typed *Error. It imports nothing of Junction's and
// nothing outside the standard library, so every other package can import it.
//
// Application payloads (args and kwargs) are carried in a Payload, which keeps
// them as the raw bytes of the serializer that produced them so that a router
// can forward them without decoding them.
package wamp
