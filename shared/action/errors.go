package action

import "errors"

// Sentinel errors. Match them with errors.Is; the errors returned wrap them
// with details.
var (
	// ErrCircuitOpen is wrapped by *OpenError, returned when a circuit
	// breaker rejects a call.
	ErrCircuitOpen = errors.New("circuit breaker is open")

	// ErrNotFound is returned by DeadLetter.Redrive for an unknown entry ID.
	ErrNotFound = errors.New("dead-letter entry not found")

	// ErrRedriveInProgress is returned by DeadLetter.Redrive when the entry
	// is already being re-driven.
	ErrRedriveInProgress = errors.New("dead-letter entry is already being re-driven")
)
