package ratelog

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(time.Second)
	l.now = func() time.Time { return now }
	type step struct {
		advance        time.Duration
		wantOK         bool
		wantSuppressed int
	}
	steps := []step{
		{0, true, 0},                       // the first is logged
		{0, false, 0},                      // held back
		{500 * time.Millisecond, false, 0}, // still within the second
		{499 * time.Millisecond, false, 0}, // 999 ms: still within
		{1 * time.Millisecond, true, 3},    // a second later: logged with the 3 held back
		{2 * time.Second, true, 0},         // nothing held back since
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		ok, n := l.Allow()
		if ok != s.wantOK || n != s.wantSuppressed {
			t.Errorf("step %d: Allow() = %v, %d, want %v, %d", i, ok, n, s.wantOK, s.wantSuppressed)
		}
	}
	for range 100_000 {
		l.Allow()
	}
	if got := l.Suppressed(); got != 100_000 {
		t.Errorf("Suppressed() after 100,000 in one instant = %d, want 100000", got)
	}
}
