// Package handshake is the contract between a host and the worker it
// launches: the magic cookie, the environment variables, protocol version
// negotiation, the ready line and the hello exchanged on the control stream.
//
// The wire protocol is written up in PROTOCOL.md beside this file, complete
// enough to write a worker in another language.
//
// Everything here is plain data and pure functions; it is safe for
// concurrent use.
package handshake
