package peer

import (
	"errors"

	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

// Errors a caller can match with errors.Is.
var (
	// ErrConnectionLost: the connection broke; pending calls fail at once
	// with it.
	ErrConnectionLost = errors.New("connection lost")
	// ErrEventsPending: a call's reply came, but not all the events its
	// handler emitted before returning were delivered before the call's
	// context ended or the connection failed.
	ErrEventsPending = errors.New("call's events not all delivered")
)

// RefusedError is the worker's refusal of a connection, in its own words
// (wrong token, serializer mismatch or collision, a host already attached).
// Code is the refusal's handshake.Code* constant ("" from an older
// worker). A refusal for a mismatch unwraps to the typed error, so
// errors.As finds a *handshake.SerializerMismatchError,
// *handshake.SerializerCollisionError or *handshake.VersionMismatchError,
// as it does for the same mismatch reported on the ready pipe.
type RefusedError struct {
	Reason string
	Code   string
	cause  error
}

func (e *RefusedError) Error() string { return "worker refused the connection: " + e.Reason }

// Unwrap returns the typed mismatch error the refusal's code names, or nil.
func (e *RefusedError) Unwrap() error { return e.cause }

// Refusal is a worker's reason to refuse a host, with the code its hello
// refusal carries when the error itself has none (handshakewire.ErrorCode).
type Refusal struct {
	Code string
	Err  error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// refusalHello is the hello refusing a host for err, with the code a host
// matches.
func refusalHello(err error) handshakewire.WorkerHello {
	code, fields := handshakewire.ErrorCode(err, "")
	var r *Refusal
	if code == "" && errors.As(err, &r) {
		code = r.Code
	}
	return handshakewire.WorkerHello{Error: err.Error(), Code: code, Fields: fields}
}
