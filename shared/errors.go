package shared

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// Errors both sides can match with errors.Is.
var (
	// ErrTerminatorInFrame: a serialized message contained the
	// serializer's terminator and was refused at send time.
	ErrTerminatorInFrame = errors.New("serialized message contains the frame terminator")
	// ErrFrameTooLarge: a frame exceeded the configured maximum size.
	ErrFrameTooLarge = errors.New("frame exceeds the maximum frame size")
	// ErrDuplicateTxID: a transaction id was reused while its first call
	// was still in flight.
	ErrDuplicateTxID = errors.New("duplicate transaction id in flight")
	// ErrBodyStalled: the peer announced a raw payload and then stopped
	// sending it in the middle for longer than the stall timeout.
	ErrBodyStalled = errors.New("peer stopped sending in the middle of a raw payload")
)

// Codes of RemoteErrors the library itself produces.
const (
	CodeHandler        = "handler"           // the handler returned an error
	CodePanic          = "panic"             // the handler panicked
	CodeUnknownMessage = "unknown_message"   // no handler for the message type
	CodeBadRequest     = "bad_request"       // the request could not be decoded
	CodeMiddleware     = "middleware"        // a worker middleware failed
	CodeCanceled       = "canceled"          // the host cancelled the call
	CodeDeadline       = "deadline_exceeded" // the call's deadline passed in the worker
	CodeDuplicateTxID  = "duplicate_txid"    // a transaction id was reused in flight
	CodeEncode         = "encode"            // the result could not be encoded
	CodeFrameTooLarge  = "frame_too_large"   // the request, or the result, exceeded the worker's MaxFrameSize or MaxRawSize
)

// FrameTooLargeError says a frame or raw payload exceeded a size limit; it
// matches ErrFrameTooLarge with errors.Is. A call whose request or reply
// was too large fails with it (or, when the worker refused the request,
// with a *RemoteError of code CodeFrameTooLarge, which matches
// ErrFrameTooLarge too); the connection keeps serving other calls.
type FrameTooLargeError struct {
	// What was too large: "request", "result", "header", "raw payload"...
	// Empty means "frame".
	What string
	// Size is its size in bytes; with AtLeast it is a lower bound (the
	// rest was not read).
	Size    int
	AtLeast bool
	// Limit is the limit it exceeded, LimitName that limit's name
	// ("MaxFrameSize" or "MaxRawSize") and Owner whose limit it is
	// ("worker" or "host"), or empty when the error comes from the frame
	// layer, which does not know.
	Limit     int
	LimitName string
	Owner     string
}

func (e *FrameTooLargeError) Error() string {
	size := fmt.Sprintf("%d bytes", e.Size)
	if e.AtLeast {
		size += " or more"
	}
	what := cmp.Or(e.What, "frame")
	if e.Owner == "" {
		return fmt.Sprintf("%v: %s of %s, limit %d", ErrFrameTooLarge, what, size, e.Limit)
	}
	return fmt.Sprintf("%s of %s exceeds the %s's %s %d", what, size, e.Owner, cmp.Or(e.LimitName, "MaxFrameSize"), e.Limit)
}

// Unwrap returns ErrFrameTooLarge.
func (e *FrameTooLargeError) Unwrap() error { return ErrFrameTooLarge }

// RemoteError is an error that the other side returned for a call: a
// worker's, which the host receives from host.Call, or a host's, which a
// worker receives from plugin.CallHost. Match it with errors.As:
//
//	var re *shared.RemoteError
//	if errors.As(err, &re) && re.Code == shared.CodeUnknownMessage { ... }
type RemoteError struct {
	Message string `json:"message" msgpack:"message"`
	// Code is CodeHandler for errors a handler returned unless the error
	// carries its own code: a FaultCode() string method (faults.Coder),
	// or faults.WithCode.
	Code string `json:"code,omitempty" msgpack:"code,omitempty"`
	// Type is the Go type of the handler's error, for example
	// "*fs.PathError".
	Type string `json:"type,omitempty" msgpack:"type,omitempty"`
	// Class is the fault class (shared/faults) of the handler's error.
	Class string `json:"class,omitempty" msgpack:"class,omitempty"`
	// RetryAfterMillis is a retry hint carried from the worker's error.
	RetryAfterMillis int64 `json:"retryAfterMs,omitempty" msgpack:"retryAfterMs,omitempty"`
	// From is the side that sent the error, "host" for a worker's call to
	// the host; "" means the worker. It is not sent: the receiver sets it.
	From string `json:"-" msgpack:"-"`
}

// RemoteError carries its code, class and retry hint to shared/faults.
var (
	_ faults.Coder       = (*RemoteError)(nil)
	_ faults.Classifier  = (*RemoteError)(nil)
	_ faults.RetryHinter = (*RemoteError)(nil)
)

func (e *RemoteError) Error() string {
	from := e.From
	if from == "" {
		from = "worker"
	}
	if e.Code == "" || e.Code == CodeHandler {
		return from + ": " + e.Message
	}
	return fmt.Sprintf("%s: %s (code %s)", from, e.Message, e.Code)
}

// FaultClass returns the fault class the worker gave the error, so
// faults.ClassOf and retry policies see it on the host.
func (e *RemoteError) FaultClass() faults.Class { return faults.Class(e.Class) }

// RetryAfter returns the worker's retry hint (zero when none).
func (e *RemoteError) RetryAfter() time.Duration {
	return time.Duration(e.RetryAfterMillis) * time.Millisecond
}

// Is makes a remote cancellation match context.Canceled, a deadline that
// passed in the worker match context.DeadlineExceeded, and a request the
// worker refused as too large match ErrFrameTooLarge, so a caller checks
// errors.Is(err, context.DeadlineExceeded) whichever side noticed first.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case context.Canceled:
		return e.Code == CodeCanceled
	case context.DeadlineExceeded:
		return e.Code == CodeDeadline
	case ErrFrameTooLarge:
		return e.Code == CodeFrameTooLarge
	}
	return false
}

// FaultCode returns the error's code, for faults.CodeOf (it implements
// faults.Coder, the one code method a handler's error implements too).
func (e *RemoteError) FaultCode() string { return e.Code }
