package faults

import (
	"fmt"
	"strings"
)

// Class says what kind of failure an error is, and so whether retrying it
// may help. The zero value is [Unknown].
type Class string

// The classes. Their string values are stable: they travel between processes
// and appear in status events.
const (
	Unknown   Class = ""          // not classified
	Transient Class = "transient" // timeouts, unavailable: retrying may help
	Permanent Class = "permanent" // invalid input, missing dependency
	System    Class = "system"    // resource or configuration trouble
	Business  Class = "business"  // a domain rule failed
)

// String returns the class value, or "unknown" for [Unknown].
func (c Class) String() string {
	if c == Unknown {
		return "unknown"
	}
	return string(c)
}

// Valid reports whether c is one of the classes this package defines.
func (c Class) Valid() bool {
	switch c {
	case Unknown, Transient, Permanent, System, Business:
		return true
	}
	return false
}

// ParseClass parses the output of [Class.String] or a class value. It
// ignores case and surrounding space; "" and "unknown" give [Unknown].
func ParseClass(s string) (Class, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "unknown" {
		return Unknown, nil
	}
	if c := Class(t); c.Valid() {
		return c, nil
	}
	return Unknown, fmt.Errorf("faults: unknown class %q (want transient, permanent, system, business or unknown)", s)
}
