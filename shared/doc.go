// Package shared holds what a host and its workers both import: message
// definitions, the type-erased message that middleware sees, serializers,
// the remote error type, request headers and transaction id generators.
//
// # Messages
//
// A message is defined once, in a package both binaries import:
//
//	var Compute = shared.NewMessage[ComputeReq, ComputeRes]("compute")
//
// The host calls it with host.Call and the worker serves it with
// plugin.Handle; the compiler checks that both sides agree on the request and
// result types.
//
// # Serializers
//
// A Serializer turns values into bytes that never contain its terminator.
// JSON (the default, terminated by "\n") and MessagePack (terminated by two
// zero bytes, with byte stuffing so that binary payloads stay framed) ship
// with the library. Writing another takes a few lines with NewSerializer.
//
// # Concurrency
//
// Message definitions, serializers and middleware are values that are shared
// by every call and must be safe for concurrent use. Nothing in this package
// keeps package-level mutable state.
package shared
