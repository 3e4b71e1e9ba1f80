package handshakewire_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/internal/handshakewire"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		host, worker []int
		want         int
		wantErr      string
	}{
		{host: []int{1}, worker: []int{1}, want: 1},
		{host: []int{1, 2, 3}, worker: []int{2, 3}, want: 3},
		{host: []int{3, 1, 2}, worker: []int{1, 2}, want: 2},
		{host: []int{1, 2}, worker: []int{2, 5, 1}, want: 2},
		{host: []int{4, 1}, worker: []int{1, 4, 4}, want: 4},
		{
			host: []int{2, 1}, worker: []int{4, 3},
			wantErr: "no common protocol version: host speaks [1 2], worker speaks [3 4]",
		},
		{
			host: nil, worker: []int{1},
			wantErr: "no common protocol version: host speaks [], worker speaks [1]",
		},
		{
			host: []int{0}, worker: []int{0},
			wantErr: "no common protocol version: host speaks [0], worker speaks [0]",
		},
	}
	for _, tt := range tests {
		got, err := handshakewire.Negotiate(tt.host, tt.worker)
		if got != tt.want || errText(err) != tt.wantErr {
			t.Errorf("Negotiate(%v, %v) = %v, %q, want %v, %q", tt.host, tt.worker, got, errText(err), tt.want, tt.wantErr)
		}
		if err == nil {
			continue
		}
		var vm *handshake.VersionMismatchError
		if !errors.As(err, &vm) {
			t.Errorf("Negotiate(%v, %v) error %T, want *handshake.VersionMismatchError", tt.host, tt.worker, err)
		}
	}
}

func TestNegotiateDoesNotReorderItsArguments(t *testing.T) {
	host, worker := []int{3, 1}, []int{5, 4}
	if _, err := handshakewire.Negotiate(host, worker); err == nil {
		t.Fatalf("Negotiate(%v, %v) = nil error, want a mismatch", host, worker)
	}
	if diff := cmp.Diff([]int{3, 1}, host); diff != "" {
		t.Errorf("Negotiate sorted the host's slice (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{5, 4}, worker); diff != "" {
		t.Errorf("Negotiate sorted the worker's slice (-want +got):\n%s", diff)
	}
}

// errText returns err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
