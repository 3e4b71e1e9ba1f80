package shared

import "fmt"

// Kind says what an envelope carries.
type Kind uint8

// Envelope kinds. The numbers travel on the wire (handshake/PROTOCOL.md).
const (
	KindRequest Kind = 1 // a call from host to worker
	KindResult  Kind = 2 // a successful reply
	KindError   Kind = 3 // a failed reply; the payload is a RemoteError
	KindCancel  Kind = 4 // the host gave up on a call
	KindEvent   Kind = 5 // a one-way event from worker to host
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindResult:
		return "result"
	case KindError:
		return "error"
	case KindCancel:
		return "cancel"
	case KindEvent:
		return "event"
	case KindItem:
		return "item"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Direction says whether a message is being sent or has been received.
type Direction uint8

// Directions a middleware sees.
const (
	Outgoing Direction = 1
	Incoming Direction = 2
)

func (d Direction) String() string {
	switch d {
	case Outgoing:
		return "outgoing"
	case Incoming:
		return "incoming"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// AnyMessage is the type-erased message that middleware and transaction id
// generators see. Payload holds the typed value: the request on the way out
// of the host and into the worker, the result on the way back. A middleware
// may replace Payload with another value of the same type, and may add or
// change Headers.
//
// For replies, Kind is KindResult or KindError; for an error the Payload is
// a *RemoteError.
type AnyMessage struct {
	Kind    Kind
	Type    string
	TxID    string
	Headers map[string]string
	Payload any
}
