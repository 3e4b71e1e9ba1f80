package host

import (
	"errors"
	"strings"
	"testing"
)

func TestExitErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  ExitError
		want string
	}{
		{"exit code", ExitError{Name: "resize", PID: 42, ExitCode: 3},
			`worker "resize" (pid 42) exited with status 3`},
		{"exit code zero", ExitError{Name: "resize", PID: 42},
			`worker "resize" (pid 42) exited with status 0`},
		{"signal", ExitError{Name: "resize", PID: 42, ExitCode: -1, Signal: "killed"},
			`worker "resize" (pid 42) killed by signal: killed`},
		{"exit code and stderr", ExitError{Name: "w", PID: 7, ExitCode: 1, Stderr: "\npanic: boom\n\ngoroutine 1\n"},
			`worker "w" (pid 7) exited with status 1; stderr: "panic: boom\n\ngoroutine 1"`},
		{"signal and stderr", ExitError{Name: "w", PID: 7, ExitCode: -1, Signal: "segmentation fault", Stderr: "fault at 0x0"},
			`worker "w" (pid 7) killed by signal: segmentation fault; stderr: "fault at 0x0"`},
		{"binary stderr is escaped", ExitError{Name: "w", PID: 7, ExitCode: 2, Stderr: "bad\x00\x1b[31m\xff\xfeend"},
			`worker "w" (pid 7) exited with status 2; stderr: "bad\x00\x1b[31m\xff\xfeend"`},
		{"long stderr: only its end", ExitError{Name: "w", PID: 7, ExitCode: 2, Stderr: strings.Repeat("é", 2048) + "\npanic: boom!"},
			`worker "w" (pid 7) exited with status 2; stderr (last 511 bytes): "` + strings.Repeat("é", 249) + `\npanic: boom!"`},
		{"blank stderr", ExitError{Name: "w", PID: 7, ExitCode: 2, Stderr: " \n\t"},
			`worker "w" (pid 7) exited with status 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("(%+v).Error() = %q, want %q", tt.err, got, tt.want)
			}
			if !errors.Is(&tt.err, ErrWorkerTerminated) {
				t.Errorf("errors.Is(%v, ErrWorkerTerminated) = false, want true", &tt.err)
			}
		})
	}
}

func TestRefusedErrorText(t *testing.T) {
	err := error(&RefusedError{Reason: "wrong auth token"})
	if got, want := err.Error(), "worker refused the connection: wrong auth token"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != "wrong auth token" {
		t.Errorf("errors.As(%v, *RefusedError) = %v, want the reason", err, re)
	}
}

func TestSentinelsDiffer(t *testing.T) {
	errs := []error{ErrWorkerClosed, ErrShuttingDown, ErrDisconnected, ErrConnectionLost, ErrWorkerTerminated, ErrStaleReattach}
	for i, a := range errs {
		for j, b := range errs {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = true, want false", a, b)
			}
		}
	}
}
