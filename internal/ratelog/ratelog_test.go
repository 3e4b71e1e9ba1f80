package ratelog

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// manualTimer is a timer the test fires by hand.
type manualTimer struct {
	f       func()
	stopped bool
}

func (t *manualTimer) Stop() bool { t.stopped = true; return true }

// fakeLimiter returns a limiter whose clock and timers the test drives,
// and the summaries it logged.
func fakeLimiter(interval time.Duration) (*Limiter, *time.Time, *[]*manualTimer, *[]Summary) {
	now := time.Unix(0, 0)
	var timers []*manualTimer
	var got []Summary
	l := New(interval, func(s Summary) { got = append(got, s) })
	l.now = func() time.Time { return now }
	l.after = func(d time.Duration, f func()) stopper {
		t := &manualTimer{f: f}
		timers = append(timers, t)
		return t
	}
	return l, &now, &timers, &got
}

func TestLimiterCountsEveryEventIntoOneRecordPerInterval(t *testing.T) {
	l, now, timers, got := fakeLimiter(time.Second)
	l.Add("reason", "a")
	if len(*got) != 1 || (*got)[0].Count != 1 {
		t.Fatalf("after the first Add: logged %+v, want one record with Count 1", *got)
	}
	for i := range 999 {
		l.Add("reason", i)
	}
	if len(*got) != 1 {
		t.Fatalf("within the interval: %d records, want 1", len(*got))
	}
	*now = now.Add(time.Second)
	(*timers)[0].f()
	if len(*got) != 2 {
		t.Fatalf("after the interval: %d records, want 2", len(*got))
	}
	s := (*got)[1]
	if s.Count != 999 || s.Window != time.Second || s.Last[1] != 998 {
		t.Errorf("summary = %+v, want Count 999, Window 1s, last reason 998", s)
	}
	// A quiet interval ends the limiting: the next event is logged at once.
	*now = now.Add(time.Second)
	(*timers)[1].f()
	if len(*got) != 2 {
		t.Fatalf("a quiet interval logged %+v", (*got)[2:])
	}
	l.Add("reason", "b")
	if len(*got) != 3 || (*got)[2].Count != 1 {
		t.Fatalf("after a quiet interval: %+v, want a third record with Count 1", *got)
	}
	l.Add("reason", "c")
	l.Flush()
	if len(*got) != 4 || (*got)[3].Count != 1 || (*got)[3].Last[1] != "c" {
		t.Fatalf("Flush logged %+v, want a record for c", *got)
	}
	if !(*timers)[2].stopped {
		t.Error("Flush left the interval's timer running")
	}
	l.Add("reason", "d")
	if len(*got) != 5 {
		t.Errorf("an Add after Flush logged %d records, want 5", len(*got))
	}
	total := 0
	for _, s := range *got {
		total += s.Count
	}
	if total != 1003 {
		t.Errorf("records count %d events, want 1003", total)
	}
}

// TestLimiterConcurrent adds from many goroutines against a real timer:
// every event is counted exactly once.
func TestLimiterConcurrent(t *testing.T) {
	var mu sync.Mutex
	total := 0
	l := New(time.Millisecond, func(s Summary) { mu.Lock(); total += s.Count; mu.Unlock() })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				l.Add("k", "v")
			}
		})
	}
	wg.Wait()
	l.Flush()
	mu.Lock()
	defer mu.Unlock()
	if total != 8000 {
		t.Errorf("records count %d events, want 8000", total)
	}
}
