package shared

import (
	"crypto/rand"
	"encoding/hex"
)

// TxIDGenerator returns the transaction id for an outgoing request. It sees
// the whole message (type, headers, payload) so an id can, for example,
// carry a job id. Ids must be unique among the calls in flight on one
// worker: a duplicate is refused with ErrDuplicateTxID.
type TxIDGenerator func(msg *AnyMessage) string

// UUIDv4 is the default TxIDGenerator: a random version 4 UUID from
// crypto/rand.
func UUIDv4(*AnyMessage) string {
	var u [16]byte
	rand.Read(u[:]) // never fails (crypto/rand documents this since Go 1.24)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
