package shared_test

import (
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

func TestMessage(t *testing.T) {
	m := shared.NewMessage[int, string]("convert")
	if got := m.Name(); got != "convert" {
		t.Errorf("Name() = %q, want %q", got, "convert")
	}
	if d, ok := m.Timeout(); d != 0 || ok {
		t.Errorf("Timeout() = %v, %v, want 0, false", d, ok)
	}
	tests := []struct {
		in   time.Duration
		want time.Duration
	}{
		{time.Second, time.Second},
		{0, 0},
		{-time.Second, 0},
	}
	for _, tt := range tests {
		mt := m.WithTimeout(tt.in)
		if d, ok := mt.Timeout(); d != tt.want || !ok {
			t.Errorf("WithTimeout(%v).Timeout() = %v, %v, want %v, true", tt.in, d, ok, tt.want)
		}
		if mt.Name() != m.Name() {
			t.Errorf("WithTimeout(%v).Name() = %q, want %q", tt.in, mt.Name(), m.Name())
		}
	}
	if _, ok := m.Timeout(); ok {
		t.Errorf("WithTimeout changed the original message")
	}
}

func TestEvent(t *testing.T) {
	if got := shared.NewEvent[int]("tick").Name(); got != "tick" {
		t.Errorf("NewEvent(%q).Name() = %q, want %q", "tick", got, "tick")
	}
	if got := shared.StatusEvent.Name(); got != "iw.status" {
		t.Errorf("StatusEvent.Name() = %q, want %q", got, "iw.status")
	}
}

func TestDuration(t *testing.T) {
	p := shared.Duration(3 * time.Second)
	if p == nil || *p != 3*time.Second {
		t.Errorf("Duration(3s) = %v, want a pointer to 3s", p)
	}
	if q := shared.Duration(3 * time.Second); p == q {
		t.Errorf("Duration returned the same pointer twice")
	}
}
