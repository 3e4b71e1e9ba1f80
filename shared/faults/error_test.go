package faults_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

func TestNilInNilOut(t *testing.T) {
	if err := faults.New(faults.Transient, nil); err != nil {
		t.Errorf("New(Transient, nil) = %v, want nil", err)
	}
	if err := faults.WithRetryAfter(nil, time.Second); err != nil {
		t.Errorf("WithRetryAfter(nil, 1s) = %v, want nil", err)
	}
	if err := faults.WithCode(nil, "x"); err != nil {
		t.Errorf("WithCode(nil, %q) = %v, want nil", "x", err)
	}
}

func TestErrorUnwrapsAndKeepsMessage(t *testing.T) {
	err := faults.New(faults.Transient, io.ErrUnexpectedEOF)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is(%v, io.ErrUnexpectedEOF) = false, want true", err)
	}
	if got, want := err.Error(), io.ErrUnexpectedEOF.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var fe *faults.Error
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *faults.Error) = false, want true", err)
	}
	want := faults.Error{Class: faults.Transient, Err: io.ErrUnexpectedEOF}
	if diff := cmp.Diff(want, *fe, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("*faults.Error mismatch (-want +got):\n%s", diff)
	}
}

func TestErrorWithoutCause(t *testing.T) {
	tests := []struct {
		err  *faults.Error
		want string
	}{
		{&faults.Error{Class: faults.System}, "system error"},
		{&faults.Error{}, "unknown error"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestConstructorsFormatAndWrap(t *testing.T) {
	err := faults.Permanentf("decode order %d: %w", 7, io.ErrUnexpectedEOF)
	if got, want := err.Error(), "decode order 7: unexpected EOF"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is(%v, io.ErrUnexpectedEOF) = false, want true", err)
	}
	// The declared class wins over the wrapped error's default class.
	if got := faults.ClassOf(err); got != faults.Permanent {
		t.Errorf("ClassOf(%v) = %q, want %q", err, got, faults.Permanent)
	}
}

func TestParseClass(t *testing.T) {
	tests := []struct {
		in      string
		want    faults.Class
		wantErr bool
	}{
		{"", faults.Unknown, false},
		{"unknown", faults.Unknown, false},
		{"transient", faults.Transient, false},
		{" Permanent ", faults.Permanent, false},
		{"SYSTEM", faults.System, false},
		{"business", faults.Business, false},
		{"fatal", faults.Unknown, true},
	}
	for _, tt := range tests {
		got, err := faults.ParseClass(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseClass(%q) = %q, %v, want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestClassStringRoundTrip(t *testing.T) {
	for _, c := range []faults.Class{faults.Unknown, faults.Transient, faults.Permanent, faults.System, faults.Business} {
		got, err := faults.ParseClass(c.String())
		if err != nil || got != c {
			t.Errorf("ParseClass(%q) = %q, %v, want %q, nil", c.String(), got, err, c)
		}
		if !c.Valid() {
			t.Errorf("%q.Valid() = false, want true", c)
		}
	}
	if faults.Class("fatal").Valid() {
		t.Errorf(`Class("fatal").Valid() = true, want false`)
	}
}
