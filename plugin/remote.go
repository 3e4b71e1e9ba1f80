package plugin

import (
	"errors"
	"fmt"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

// remoteError turns a handler's error into the RemoteError the host
// receives. A *shared.RemoteError passes through unchanged; an error with an
// ErrorCode() string method sets the code.
func remoteError(err error) *shared.RemoteError {
	var re *shared.RemoteError
	if errors.As(err, &re) {
		return re
	}
	re = &shared.RemoteError{Message: err.Error(), Code: shared.CodeHandler, Type: fmt.Sprintf("%T", err)}
	var coder interface{ ErrorCode() string }
	if errors.As(err, &coder) {
		re.Code = coder.ErrorCode()
	}
	classify(err, re)
	return re
}
