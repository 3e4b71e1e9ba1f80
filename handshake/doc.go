// Package handshake is the contract a host and the worker it launches
// agree on: the Config (magic cookie, protocol versions) and the typed
// errors and codes a failed handshake reports (StartupError, the mismatch
// errors, the Code* constants), which callers match with errors.As and
// errors.Is.
//
// The wire protocol (environment variables, ready line, hello lines,
// control operations) is written up in PROTOCOL.md beside this file,
// complete enough to write a worker in another language; the Go code that
// reads and writes it is internal to this module.
//
// Everything here is plain data and pure functions; it is safe for
// concurrent use.
package handshake
