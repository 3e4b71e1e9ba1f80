package retry_test

import (
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    retry.Policy
		want string // "" means valid
	}{
		{"zero value", retry.Policy{}, ""},
		{"host style", retry.Policy{MaxAttempts: 5, MaxDelay: 5 * time.Second, DelayFunc: func(int) time.Duration { return 0 }}, ""},
		{"all classes", retry.Policy{RetryableClasses: []faults.Class{faults.Unknown, faults.Transient, faults.Permanent, faults.System, faults.Business}}, ""},
		{"negative attempts", retry.Policy{MaxAttempts: -1}, "retry: MaxAttempts must not be negative, got -1 (0 means the default, 3)"},
		{"negative base", retry.Policy{BaseDelay: -time.Second}, "retry: BaseDelay must not be negative, got -1s (0 means the default, 1s)"},
		{"negative max", retry.Policy{MaxDelay: -time.Millisecond}, "retry: MaxDelay must not be negative, got -1ms (0 means the default, 30s)"},
		{"bad class", retry.Policy{RetryableClasses: []faults.Class{faults.Transient, "fatal"}}, `retry: RetryableClasses[1] is "fatal", not a known class (want transient, permanent, system, business or unknown)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestShouldRetry(t *testing.T) {
	transient := faults.Transientf("timeout")
	permanent := faults.Permanentf("bad input")
	tests := []struct {
		name   string
		policy retry.Policy
		n      int
		err    error
		want   bool
	}{
		{"first of default 3, transient", retry.Policy{}, 1, transient, true},
		{"second of default 3, transient", retry.Policy{}, 2, transient, true},
		{"last of default 3", retry.Policy{}, 3, transient, false},
		{"permanent is never retried by default", retry.Policy{}, 1, permanent, false},
		{"MaxAttempts 1", retry.Policy{MaxAttempts: 1}, 1, transient, false},
		{"Retryable overrides classes", retry.Policy{Retryable: func(error) bool { return true }}, 1, permanent, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.ShouldRetry(tt.n, tt.err); got != tt.want {
				t.Errorf("ShouldRetry(%d, %v) = %v, want %v", tt.n, tt.err, got, tt.want)
			}
		})
	}
}
