// Package handshakewire reads and writes the handshake on the wire: the
// environment a host gives its worker, the ready line, the hello lines on
// the control stream and the control operations after them, and the
// mapping between handshake's typed errors and their wire codes. Host and
// worker both use it; the user-facing contract (Config, the typed errors,
// the codes) is package handshake, and PROTOCOL.md there writes the wire
// up in plain English.
//
// Everything here is plain data and pure functions; it is safe for
// concurrent use.
package handshakewire
