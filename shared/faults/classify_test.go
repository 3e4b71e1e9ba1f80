package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// remoteError stands in for an error type defined in another package (such
// as the error a worker returns across the process boundary) that declares
// its class by method.
type remoteError struct {
	class faults.Class
	msg   string
}

func (e *remoteError) Error() string            { return e.msg }
func (e *remoteError) FaultClass() faults.Class { return e.class }

var _ faults.Classifier = (*remoteError)(nil)

func TestClassOf(t *testing.T) {
	_, atoiErr := strconv.Atoi("x")
	var jsonSyntax *json.SyntaxError
	if err := json.Unmarshal([]byte("{"), new(any)); !errors.As(err, &jsonSyntax) {
		t.Fatalf("json.Unmarshal(%q) = %v, want a *json.SyntaxError", "{", err)
	}
	jsonType := json.Unmarshal([]byte(`"s"`), new(int))
	_, statErr := os.Stat("/does/not/exist")
	jsonInvalid := error(&json.InvalidUnmarshalError{Type: reflect.TypeFor[int]()})
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

	tests := []struct {
		name string
		err  error
		want faults.Class
	}{
		{"nil", nil, faults.Unknown},
		{"plain", errors.New("boom"), faults.Unknown},
		{"EOF", io.EOF, faults.Unknown},
		{"New transient", faults.New(faults.Transient, errors.New("x")), faults.Transient},
		{"Permanentf", faults.Permanentf("bad input %d", 1), faults.Permanent},
		{"Systemf", faults.Systemf("disk"), faults.System},
		{"Businessf", faults.Businessf("insufficient funds"), faults.Business},
		{"wrapped with fmt", fmt.Errorf("charge: %w", faults.Businessf("no")), faults.Business},
		{"remote type", &remoteError{faults.System, "x"}, faults.System},
		{"remote wrapped", fmt.Errorf("call: %w", &remoteError{faults.Permanent, "x"}), faults.Permanent},
		{"outer declaration wins", faults.New(faults.Business, io.ErrUnexpectedEOF), faults.Business},
		{"declared Unknown defers inward", faults.New(faults.Unknown, faults.Systemf("x")), faults.System},
		{"declared Unknown defers to defaults", faults.New(faults.Unknown, context.DeadlineExceeded), faults.Transient},
		{"joined: first declaration", errors.Join(errors.New("a"), faults.Businessf("b"), faults.Systemf("c")), faults.Business},
		{"WithCode keeps class", faults.WithCode(faults.Permanentf("x"), "bad"), faults.Permanent},
		{"WithCode of stdlib", faults.WithCode(os.ErrNotExist, "missing"), faults.Permanent},
		{"WithRetryAfter", faults.WithRetryAfter(errors.New("slow down"), time.Second), faults.Transient},
		{"context.Canceled", context.Canceled, faults.Permanent},
		{"context.DeadlineExceeded", fmt.Errorf("wait: %w", context.DeadlineExceeded), faults.Transient},
		{"os.ErrDeadlineExceeded", os.ErrDeadlineExceeded, faults.Transient},
		{"net timeout", &net.DNSError{Err: "timeout", IsTimeout: true}, faults.Transient},
		{"net not timeout", &net.DNSError{Err: "no such host", IsNotFound: true}, faults.Unknown},
		{"ECONNREFUSED in OpError", opErr, faults.Transient},
		{"ECONNRESET", syscall.ECONNRESET, faults.Transient},
		{"EPIPE", syscall.EPIPE, faults.Transient},
		{"unexpected EOF", io.ErrUnexpectedEOF, faults.Transient},
		{"ENOSPC", &os.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}, faults.System},
		{"EMFILE", syscall.EMFILE, faults.System},
		{"ENOMEM", syscall.ENOMEM, faults.System},
		{"not exist", statErr, faults.Permanent},
		{"ENOENT", syscall.ENOENT, faults.Permanent},
		{"permission", os.ErrPermission, faults.Permanent},
		{"strconv syntax", atoiErr, faults.Permanent},
		{"json syntax", jsonSyntax, faults.Permanent},
		{"json type", jsonType, faults.Permanent},
		{"json invalid unmarshal", jsonInvalid, faults.Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := faults.ClassOf(tt.err); got != tt.want {
				t.Errorf("ClassOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
			if got := faults.Is(tt.err, tt.want); !got {
				t.Errorf("Is(%v, %q) = false, want true", tt.err, tt.want)
			}
		})
	}
}

func TestIsHelpers(t *testing.T) {
	tests := []struct {
		err                                    error
		transient, permanent, system, business bool
	}{
		{faults.Transientf("t"), true, false, false, false},
		{faults.Permanentf("p"), false, true, false, false},
		{faults.Systemf("s"), false, false, true, false},
		{faults.Businessf("b"), false, false, false, true},
		{errors.New("u"), false, false, false, false},
	}
	for _, tt := range tests {
		got := [4]bool{faults.IsTransient(tt.err), faults.IsPermanent(tt.err), faults.IsSystem(tt.err), faults.IsBusiness(tt.err)}
		want := [4]bool{tt.transient, tt.permanent, tt.system, tt.business}
		if got != want {
			t.Errorf("IsTransient/IsPermanent/IsSystem/IsBusiness(%v) = %v, want %v", tt.err, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		want   time.Duration
		wantOK bool
	}{
		{"nil", nil, 0, false},
		{"none", errors.New("x"), 0, false},
		{"hint", faults.WithRetryAfter(errors.New("x"), 3*time.Second), 3 * time.Second, true},
		{"wrapped hint", fmt.Errorf("call: %w", faults.WithRetryAfter(errors.New("x"), time.Second)), time.Second, true},
		{"zero is no hint", faults.WithRetryAfter(errors.New("x"), 0), 0, false},
		{"negative is no hint", faults.WithRetryAfter(errors.New("x"), -time.Second), 0, false},
		{"zero outer defers inward", faults.WithCode(fmt.Errorf("w: %w", faults.WithRetryAfter(errors.New("x"), time.Minute)), "c"), time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := faults.RetryAfter(tt.err)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("RetryAfter(%v) = %v, %v, want %v, %v", tt.err, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestWithRetryAfterKeepsCode(t *testing.T) {
	err := faults.WithRetryAfter(faults.WithCode(faults.Permanentf("limited"), "rate_limited"), time.Second)
	if got := faults.CodeOf(err); got != "rate_limited" {
		t.Errorf("CodeOf(%v) = %q, want %q", err, got, "rate_limited")
	}
	if got := faults.ClassOf(err); got != faults.Transient {
		t.Errorf("ClassOf(%v) = %q, want %q", err, got, faults.Transient)
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"none", faults.Transientf("x"), ""},
		{"coded", faults.WithCode(errors.New("x"), "bad_input"), "bad_input"},
		{"wrapped", fmt.Errorf("w: %w", faults.WithCode(errors.New("x"), "c1")), "c1"},
		{"recode", faults.WithCode(faults.WithCode(errors.New("x"), "c1"), "c2"), "c2"},
	}
	for _, tt := range tests {
		if got := faults.CodeOf(tt.err); got != tt.want {
			t.Errorf("%s: CodeOf(%v) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}
