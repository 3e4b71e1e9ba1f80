package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// TestOversizeRequestLeavesWorkerServing sends a request over the worker's
// limit: the call fails with an error naming both sizes and the worker's
// limit, nothing reaches the worker, and the same worker process serves
// the next call.
func TestOversizeRequestLeavesWorkerServing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		call func(*host.Worker) error
		want string
	}{
		{
			name: "frame", args: []string{"-max-frame", "4096"},
			call: func(w *host.Worker) error {
				_, err := host.Call(ctxT(t), w, testproto.EchoItem, testproto.Item{Name: strings.Repeat("n", 8<<10)})
				return err
			},
			want: `call "echo-item" on worker "testworker": encode request "echo-item": request of 8213 bytes exceeds the worker's MaxFrameSize 4096`,
		},
		{
			name: "raw", args: []string{"-max-raw", "4096"},
			call: func(w *host.Worker) error {
				_, err := host.Call(ctxT(t), w, testproto.Echo, make([]byte, 8<<10))
				return err
			},
			want: `call "echo" on worker "testworker": encode request "echo": raw request of 8192 bytes exceeds the worker's MaxRawSize 4096`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := startArgs(t, tt.args...)
			pid, err := host.Call(ctxT(t), w, testproto.Pid, "")
			if err != nil {
				t.Fatalf("Call(pid) = %v", err)
			}
			err = tt.call(w)
			var tl *shared.FrameTooLargeError
			if !errors.Is(err, shared.ErrFrameTooLarge) || !errors.As(err, &tl) || tl.Owner != "worker" || tl.Limit != 4096 {
				t.Fatalf("oversize call = %v, want a *shared.FrameTooLargeError over the worker's limit 4096", err)
			}
			if err.Error() != tt.want {
				t.Errorf("oversize call = %q, want %q", err, tt.want)
			}
			got, err := host.Call(ctxT(t), w, testproto.Pid, "")
			if err != nil || got != pid {
				t.Fatalf("Call(pid) after the oversize call = %d, %v, want %d, nil (the same worker)", got, err, pid)
			}
			if !w.IsActive() {
				t.Errorf("IsActive() after the oversize call = false, want true")
			}
		})
	}
}

// TestOversizeReplyFailsOnlyItsCall makes the worker reply with more than
// the host's MaxFrameSize: that call fails with an error matching
// shared.ErrFrameTooLarge that names the host's limit, and the connection
// serves the next call.
func TestOversizeReplyFailsOnlyItsCall(t *testing.T) {
	cfg, _ := config(t)
	cfg.MaxFrameSize = 4096
	w := start(t, cfg)
	_, err := host.Call(ctxT(t), w, testproto.Big, 8<<10)
	var tl *shared.FrameTooLargeError
	if !errors.Is(err, shared.ErrFrameTooLarge) || !errors.As(err, &tl) || tl.Owner != "host" || tl.Size != 8<<10+2 {
		t.Fatalf("Call(big 8 KiB) with the host's MaxFrameSize 4096 = %v, want a *shared.FrameTooLargeError of %d bytes over the host's limit", err, 8<<10+2)
	}
	want := `call "big" on worker "testworker": reply from worker "testworker": result of 8194 bytes exceeds the host's MaxFrameSize 4096`
	if err.Error() != want {
		t.Errorf("Call(big 8 KiB) = %q, want %q", err, want)
	}
	if got, err := host.Call(ctxT(t), w, testproto.Ping, "after"); err != nil || got != "pong:after" {
		t.Errorf("Call(ping) after the oversize reply = %q, %v, want \"pong:after\", nil", got, err)
	}
}

// TestResultOverWorkerLimit: a result over the worker's own MaxFrameSize
// is refused by the worker with code frame_too_large, which matches
// shared.ErrFrameTooLarge on the host; the worker keeps serving.
func TestResultOverWorkerLimit(t *testing.T) {
	w, _ := startArgs(t, "-max-frame", "4096")
	_, err := host.Call(ctxT(t), w, testproto.Big, 8<<10)
	var re *shared.RemoteError
	if !errors.Is(err, shared.ErrFrameTooLarge) || !errors.As(err, &re) || re.Code != shared.CodeFrameTooLarge {
		t.Fatalf("Call(big 8 KiB) with the worker's MaxFrameSize 4096 = %v, want a RemoteError of code %s matching ErrFrameTooLarge", err, shared.CodeFrameTooLarge)
	}
	want := `encode result "big": result of 8194 bytes exceeds the worker's MaxFrameSize 4096`
	if re.Message != want {
		t.Errorf("RemoteError.Message = %q, want %q", re.Message, want)
	}
	if got, err := host.Call(ctxT(t), w, testproto.Ping, "after"); err != nil || got != "pong:after" {
		t.Errorf("Call(ping) after the refused result = %q, %v, want \"pong:after\", nil", got, err)
	}
}
