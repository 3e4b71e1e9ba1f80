package faults_test

import (
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// FuzzParseClass checks ParseClass on class names as they arrive from
// another process: it never panics, accepts only valid classes, and
// round-trips through Class.String.
func FuzzParseClass(f *testing.F) {
	for _, s := range []string{"", "unknown", "transient", "Permanent", " system ", "business", "fatal", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := faults.ParseClass(s)
		if err != nil {
			if c != faults.Unknown {
				t.Errorf("ParseClass(%q) = %q, %v, want Unknown with an error", s, c, err)
			}
			return
		}
		if !c.Valid() {
			t.Errorf("ParseClass(%q) = %q, not a valid class", s, c)
		}
		if back, err := faults.ParseClass(c.String()); err != nil || back != c {
			t.Errorf("ParseClass(%q) = %q, %v, want %q", c.String(), back, err, c)
		}
	})
}
