package faults

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"
)

// ClassOf returns the class of err.
//
// It first walks err's chain in the order errors.As uses (Unwrap() error and
// Unwrap() []error, depth first) and returns the first class other than
// [Unknown] declared by an error implementing [Classifier]. So a class set
// anywhere in the chain, by this package or by an error type defined
// elsewhere, wins over the defaults below.
//
// Otherwise it classifies common standard-library errors, checking in this
// order (errors.Is / errors.As against the whole chain):
//
//	context.Canceled                                   Permanent (the caller gave up; do not retry)
//	context.DeadlineExceeded, os.ErrDeadlineExceeded,
//	  any error with Timeout() bool returning true
//	  (net.Error timeouts)                             Transient
//	syscall.ECONNREFUSED, ECONNRESET, ECONNABORTED,
//	  EPIPE, io.ErrUnexpectedEOF                       Transient
//	syscall.ENOSPC, EMFILE, ENFILE, ENOMEM             System
//	os.ErrNotExist, os.ErrPermission, strconv.ErrSyntax,
//	  strconv.ErrRange, *json.SyntaxError,
//	  *json.UnmarshalTypeError,
//	  *json.InvalidUnmarshalError                      Permanent
//
// Anything else, and nil, is [Unknown].
func ClassOf(err error) Class {
	if err == nil {
		return Unknown
	}
	var declared Class
	walk(err, func(e error) bool {
		if c, ok := e.(Classifier); ok && c.FaultClass() != Unknown {
			declared = c.FaultClass()
			return true
		}
		return false
	})
	if declared != Unknown {
		return declared
	}
	return defaultClass(err)
}

// timeouter matches net.Error and the many other errors that report a
// timeout the same way.
type timeouter interface{ Timeout() bool }

func defaultClass(err error) Class {
	switch {
	case errors.Is(err, context.Canceled):
		return Permanent
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Transient
	}
	var t timeouter
	if errors.As(err, &t) && t.Timeout() {
		return Transient
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF):
		return Transient
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EMFILE),
		errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.ENOMEM):
		return System
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission),
		errors.Is(err, strconv.ErrSyntax), errors.Is(err, strconv.ErrRange):
		return Permanent
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		inv *json.InvalidUnmarshalError
	)
	if errors.As(err, &syn) || errors.As(err, &typ) || errors.As(err, &inv) {
		return Permanent
	}
	return Unknown
}

// Is reports whether ClassOf(err) == c. Is(nil, Unknown) is true.
func Is(err error, c Class) bool { return ClassOf(err) == c }

// IsTransient reports whether err is of class [Transient].
func IsTransient(err error) bool { return Is(err, Transient) }

// IsPermanent reports whether err is of class [Permanent].
func IsPermanent(err error) bool { return Is(err, Permanent) }

// IsSystem reports whether err is of class [System].
func IsSystem(err error) bool { return Is(err, System) }

// IsBusiness reports whether err is of class [Business].
func IsBusiness(err error) bool { return Is(err, Business) }

// RetryAfter returns the first positive hint in err's chain declared by an
// error implementing [RetryHinter], and whether there was one.
func RetryAfter(err error) (time.Duration, bool) {
	var d time.Duration
	found := walk(err, func(e error) bool {
		if h, ok := e.(RetryHinter); ok && h.RetryAfter() > 0 {
			d = h.RetryAfter()
			return true
		}
		return false
	})
	return d, found
}

// CodeOf returns the first non-empty code in err's chain declared by an
// error implementing [Coder], or "".
func CodeOf(err error) string {
	var code string
	walk(err, func(e error) bool {
		if c, ok := e.(Coder); ok && c.FaultCode() != "" {
			code = c.FaultCode()
			return true
		}
		return false
	})
	return code
}

// walk calls visit on err and the errors it wraps, depth first, in the
// order errors.As uses, until visit returns true. It reports whether visit
// did.
func walk(err error, visit func(error) bool) bool {
	for err != nil {
		if visit(err) {
			return true
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if walk(e, visit) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
