// Package bridge is Junction's HTTP bridge, its inbound half: HTTP
// endpoints that call a procedure (caller) or publish an event
// (publisher) on a realm, for programs that speak HTTP but not WAMP.
//
// A request is authenticated by the bridge (a bearer ticket of one of the
// realm's principals, a request signed with a key as Crossbar's HTTP
// bridge signs them, or anonymously where the endpoint allows it) and then
// acts through an in-process WAMP session (clientlib.ConnectLocal) that
// the router admits with the principal's authid and authrole
// (transport.Info.Identity): the router's own authorization (role rules,
// dynamic authorizer) decides what it may do, exactly as for a WebSocket
// session of that principal. There is one such session per (realm,
// identity), joined on the first request that needs it and again when it
// ended; identities come from the config, so the sessions are bounded by
// it.
//
// Payloads are JSON with WAMP's binary convention (a string "\u0000" +
// base64 is a binary value), read and written by package serializers' JSON
// codec, which also refuses what the router refuses (invalid UTF-8,
// numbers no serializer can carry).
//
// A Bridge is an http.Handler for the paths of its endpoints (Handles);
// Apply swaps its config at runtime, validated first.
package bridge
