package shared_test

import (
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

func TestMessageWithCrashRetry(t *testing.T) {
	m := shared.NewMessage[string, string]("ping")
	for _, tc := range []struct {
		name string
		m    shared.Message[string, string]
		want int
	}{
		{"default is Reject", m, 0},
		{"retry 2", m.WithCrashRetry(2), 2},
		{"negative is Reject", m.WithCrashRetry(-1), 0},
		{"kept by WithTimeout", m.WithCrashRetry(1).WithTimeout(5), 1},
	} {
		if got := tc.m.CrashRetries(); got != tc.want {
			t.Errorf("%s: CrashRetries() = %d, want %d", tc.name, got, tc.want)
		}
	}
	if m.CrashRetries() != 0 {
		t.Errorf("WithCrashRetry changed the original message")
	}
}
