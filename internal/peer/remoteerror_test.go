package peer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// codedError carries its code the one way the library reads:
// faults.Coder's FaultCode.
type codedError struct{ code string }

func (e *codedError) Error() string     { return "coded " + e.code }
func (e *codedError) FaultCode() string { return e.code }

// oldCodedError has only the ErrorCode method earlier versions read
// besides FaultCode; it is no longer a way to set a code.
type oldCodedError struct{}

func (oldCodedError) Error() string     { return "old coded" }
func (oldCodedError) ErrorCode() string { return "old_code" }

// TestRemoteErrorCode checks that a handler's error sets RemoteError.Code
// through faults.Coder (FaultCode, or faults.WithCode) and no other method.
func TestRemoteErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("boom"), shared.CodeHandler},
		{"FaultCode", &codedError{code: "not_found"}, "not_found"},
		{"wrapped FaultCode", fmt.Errorf("get: %w", &codedError{code: "not_found"}), "not_found"},
		{"faults.WithCode", faults.WithCode(errors.New("gone"), "gone"), "gone"},
		{"ErrorCode only", oldCodedError{}, shared.CodeHandler},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RemoteError(tt.err).Code; got != tt.want {
				t.Errorf("RemoteError(%v).Code = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
