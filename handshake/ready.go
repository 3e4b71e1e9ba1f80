package handshake

import "errors"

// ErrNotLaunchedByHost: the magic cookie is missing or wrong, so the binary
// was most likely started by hand.
var ErrNotLaunchedByHost = errors.New("this binary is a worker plugin, launched by its host; it is not meant to be run directly")

// StartupError is an error the worker reported on the ready pipe. Its text
// is the worker's own. When Code names one of this package's mismatch
// errors (or, from an older worker without codes, the text states one),
// errors.As finds it as a *SerializerMismatchError or a
// *VersionMismatchError too.
type StartupError struct {
	Code    string // one of the Code* constants; "" from an older worker
	Message string
	// Err is the typed mismatch error Code (or the text) describes, or nil.
	Err error
}

func (e *StartupError) Error() string { return e.Message }

// Unwrap returns the typed mismatch error, or nil.
func (e *StartupError) Unwrap() error { return e.Err }
