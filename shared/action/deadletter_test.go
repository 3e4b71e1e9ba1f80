package action_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry/retrytest"
)

// newSink returns a dead-letter sink on a fake clock that collects the
// entries passed to OnDeadLetter.
func newSink(t *testing.T, cfg action.DeadLetterConfig) (*action.DeadLetter, *retrytest.FakeClock, func() []action.Entry) {
	t.Helper()
	clk := retrytest.NewFakeClock(time.Time{})
	var (
		mu   sync.Mutex
		seen []action.Entry
	)
	cfg.Clock = clk
	cfg.OnDeadLetter = func(e action.Entry) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e)
	}
	d, err := action.NewDeadLetter(cfg)
	if err != nil {
		t.Fatalf("NewDeadLetter() error = %v", err)
	}
	return d, clk, func() []action.Entry {
		mu.Lock()
		defer mu.Unlock()
		return append([]action.Entry(nil), seen...)
	}
}

func ids(entries []action.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.ID)
	}
	return out
}

func errTexts(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// checkoutPipeline returns a pipeline whose charge action is retried three
// times and fails while *failing is true, with d as its dead-letter sink.
func checkoutPipeline(t *testing.T, d *action.DeadLetter, failing *bool) *action.Pipeline[string, int] {
	t.Helper()
	calls := 0
	charge := action.Wrap(action.New("charge", func(_ context.Context, _ *action.JobInfo, n int) (int, error) {
		calls++
		if *failing {
			return 0, faults.Transientf("gateway timeout %d", calls)
		}
		return n * 100, nil
	}), action.WithRetry(instant))
	p, err := action.NewPipeline[string, int]("checkout", []action.Stage{parse, charge}, action.WithDeadLetter(d))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeadLetterRecordsEveryAttempt(t *testing.T) {
	d, _, seen := newSink(t, action.DeadLetterConfig{})
	failing := true
	p := checkoutPipeline(t, d, &failing)
	ac := &action.JobInfo{JobID: "order-7", WorkerID: "w-1", Headers: traceHeaders}
	_, err := p.Run(testContext(t), ac, "7")
	if err == nil {
		t.Fatalf("Run() = nil, want an error")
	}
	entries := d.List()
	if len(entries) != 1 {
		t.Fatalf("List() has %d entries, want 1", len(entries))
	}
	got := entries[0]
	want := action.Entry{
		ID: "dl-1", JobID: "order-7", WorkerID: "w-1", Action: "charge", Headers: traceHeaders,
		Input: "7", Attempts: 3, Time: retrytest.Epoch,
	}
	if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".Err" || p.Last().String() == ".Errors"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("entry mismatch (-want +got):\n%s", diff)
	}
	if got.Err != err {
		t.Errorf("entry Err = %v, want the pipeline's error %v", got.Err, err)
	}
	if diff := cmp.Diff([]string{"gateway timeout 1", "gateway timeout 2", "gateway timeout 3"}, errTexts(got.Errors)); diff != "" {
		t.Errorf("entry Errors mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dl-1"}, ids(seen())); diff != "" {
		t.Errorf("OnDeadLetter calls mismatch (-want +got):\n%s", diff)
	}
}

func TestDeadLetterWhatIsRecorded(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		cancel     bool
		wantErrors []string
	}{
		{"success", nil, false, nil},
		{"single failure", faults.Permanentf("bad order"), false, []string{"bad order"}},
		{"deadline exceeded", context.DeadlineExceeded, false, []string{"context deadline exceeded"}},
		{"caller cancelled", faults.Transientf("interrupted"), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _, _ := newSink(t, action.DeadLetterConfig{})
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			a := action.Wrap(action.New("x", func(context.Context, *action.JobInfo, int) (int, error) {
				if tt.cancel {
					cancel()
				}
				return 0, tt.err
			}), action.WithDeadLetter(d))
			_, _ = a.Run(ctx, &action.JobInfo{}, 1)
			var got []string
			for _, e := range d.List() {
				got = append(got, errTexts(e.Errors)...)
				if e.Attempts != len(e.Errors) {
					t.Errorf("entry Attempts = %d, want %d", e.Attempts, len(e.Errors))
				}
			}
			if diff := cmp.Diff(tt.wantErrors, got); diff != "" {
				t.Errorf("recorded errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeadLetterMaxEntries(t *testing.T) {
	d, _, _ := newSink(t, action.DeadLetterConfig{MaxEntries: 3})
	for i := range 5 {
		d.Add(action.Entry{JobID: strconv.Itoa(i), Err: errors.New("x")})
	}
	if diff := cmp.Diff([]string{"dl-3", "dl-4", "dl-5"}, ids(d.List())); diff != "" {
		t.Errorf("List() IDs mismatch (-want +got):\n%s", diff)
	}
	want := action.DeadLetterStats{Entries: 3, Added: 5, Evicted: 2}
	if diff := cmp.Diff(want, d.Stats()); diff != "" {
		t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
	}
}

func TestDeadLetterRetention(t *testing.T) {
	d, clk, _ := newSink(t, action.DeadLetterConfig{Retention: time.Hour})
	d.Add(action.Entry{JobID: "a", Err: errors.New("x")})
	clk.Advance(30 * time.Minute)
	d.Add(action.Entry{JobID: "b", Err: errors.New("x")})
	clk.Advance(30*time.Minute - 1)
	if got := d.Len(); got != 2 {
		t.Errorf("Len() just before the first expiry = %d, want 2", got)
	}
	clk.Advance(1)
	if diff := cmp.Diff([]string{"dl-2"}, ids(d.List())); diff != "" {
		t.Errorf("List() IDs after an hour mismatch (-want +got):\n%s", diff)
	}
	if _, ok := d.Get("dl-1"); ok {
		t.Errorf("Get(dl-1) found an expired entry")
	}
	clk.Advance(time.Hour)
	want := action.DeadLetterStats{Entries: 0, Added: 2, Expired: 2}
	if diff := cmp.Diff(want, d.Stats()); diff != "" {
		t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
	}
}

func TestDeadLetterGetRemove(t *testing.T) {
	d, _, _ := newSink(t, action.DeadLetterConfig{})
	stored := d.Add(action.Entry{JobID: "a", Err: errors.New("x"), Headers: map[string]string{"k": "v"}})
	got, ok := d.Get(stored.ID)
	if !ok || got.JobID != "a" {
		t.Fatalf("Get(%q) = %+v, %v, want job a", stored.ID, got, ok)
	}
	// Entries are copies: changing one does not change the sink.
	got.Headers["k"] = "changed"
	got.Errors[0] = nil
	if again, _ := d.Get(stored.ID); again.Headers["k"] != "v" || again.Errors[0] == nil {
		t.Errorf("changing a returned entry changed the sink: %+v", again)
	}
	if !d.Remove(stored.ID) {
		t.Errorf("Remove(%q) = false, want true", stored.ID)
	}
	if d.Remove(stored.ID) {
		t.Errorf("second Remove(%q) = true, want false", stored.ID)
	}
	if _, ok := d.Get(stored.ID); ok || d.Len() != 0 {
		t.Errorf("after Remove: Get ok = %v, Len = %d, want false, 0", ok, d.Len())
	}
}

func TestDeadLetterRedrive(t *testing.T) {
	d, clk, seen := newSink(t, action.DeadLetterConfig{})
	failing := true
	p := checkoutPipeline(t, d, &failing)
	redrive := func(ctx context.Context, e action.Entry) error {
		_, err := p.Run(ctx, &action.JobInfo{JobID: e.JobID, Headers: e.Headers}, e.Input.(string))
		return err
	}
	for _, job := range []string{"1", "2"} {
		_, _ = p.Run(testContext(t), &action.JobInfo{JobID: job}, job)
	}

	// A redrive that fails again updates the entry in place: no duplicate.
	clk.Advance(time.Minute)
	err := d.Redrive(testContext(t), "dl-1", redrive)
	if err == nil {
		t.Fatalf("Redrive(dl-1) = nil while the action still fails")
	}
	if want := `redrive "dl-1": action "charge": retry: gave up after 3 attempts: gateway timeout 9`; err.Error() != want {
		t.Errorf("Redrive(dl-1) error = %q, want %q", err, want)
	}
	if diff := cmp.Diff([]string{"dl-2", "dl-1"}, ids(d.List())); diff != "" {
		t.Errorf("List() after a failed redrive mismatch (-want +got):\n%s", diff)
	}
	e, _ := d.Get("dl-1")
	if e.Redrives != 1 || len(e.Errors) != 6 || e.Attempts != 3 || !e.Time.Equal(retrytest.Epoch.Add(time.Minute)) {
		t.Errorf("entry after a failed redrive: Redrives %d, %d errors, Attempts %d, Time %v; want 1, 6, 3, epoch+1m",
			e.Redrives, len(e.Errors), e.Attempts, e.Time)
	}
	if diff := cmp.Diff([]string{"dl-1", "dl-2", "dl-1"}, ids(seen())); diff != "" {
		t.Errorf("OnDeadLetter calls mismatch (-want +got):\n%s", diff)
	}

	// A redrive that succeeds removes the entry.
	failing = false
	if err := d.Redrive(testContext(t), "dl-1", redrive); err != nil {
		t.Errorf("Redrive(dl-1) = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{"dl-2"}, ids(d.List())); diff != "" {
		t.Errorf("List() after a successful redrive mismatch (-want +got):\n%s", diff)
	}
	want := action.DeadLetterStats{Entries: 1, Added: 2, Redriven: 1}
	if diff := cmp.Diff(want, d.Stats()); diff != "" {
		t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
	}
}

func TestDeadLetterRedriveErrors(t *testing.T) {
	d, _, _ := newSink(t, action.DeadLetterConfig{})
	if err := d.Redrive(testContext(t), "dl-404", nil); !errors.Is(err, action.ErrNotFound) {
		t.Errorf("Redrive(unknown) = %v, want ErrNotFound", err)
	}
	e := d.Add(action.Entry{JobID: "a", Err: errors.New("x")})
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.Redrive(testContext(t), e.ID, func(context.Context, action.Entry) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	if err := d.Redrive(testContext(t), e.ID, nil); !errors.Is(err, action.ErrRedriveInProgress) {
		t.Errorf("concurrent Redrive(%q) = %v, want ErrRedriveInProgress", e.ID, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Redrive(%q) = %v, want nil", e.ID, err)
	}
}

func TestDeadLetterRedriveOfRemovedEntry(t *testing.T) {
	d, _, _ := newSink(t, action.DeadLetterConfig{})
	e := d.Add(action.Entry{JobID: "a", Err: errors.New("x")})
	err := d.Redrive(testContext(t), e.ID, func(context.Context, action.Entry) error {
		d.Remove(e.ID)
		return errors.New("still failing")
	})
	if err == nil || d.Len() != 0 {
		t.Errorf("Redrive() = %v with %d entries left, want an error and no entry re-added", err, d.Len())
	}
}

func TestDeadLetterConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  action.DeadLetterConfig
		want string
	}{
		{action.DeadLetterConfig{MaxEntries: -1}, "dead-letter sink: MaxEntries must not be negative, got -1"},
		{action.DeadLetterConfig{Retention: -time.Hour}, "dead-letter sink: Retention must not be negative, got -1h0m0s"},
	}
	for _, tt := range tests {
		if _, err := action.NewDeadLetter(tt.cfg); err == nil || err.Error() != tt.want {
			t.Errorf("NewDeadLetter(%+v) error = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestDeadLetterConcurrentUse(t *testing.T) {
	d, _, seen := newSink(t, action.DeadLetterConfig{MaxEntries: 50})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				e := d.Add(action.Entry{JobID: strconv.Itoa(i*100 + j), Err: errors.New("x")})
				_ = d.List()
				if j%3 == 0 {
					d.Remove(e.ID)
				}
				if j%5 == 0 {
					_ = d.Redrive(context.Background(), e.ID, func(context.Context, action.Entry) error { return nil })
				}
			}
		}()
	}
	wg.Wait()
	st := d.Stats()
	if st.Added != 400 || len(seen()) != 400 || st.Entries > 50 {
		t.Errorf("Stats() = %+v with %d callbacks, want 400 added, 400 callbacks, at most 50 entries", st, len(seen()))
	}
}

// recordingSink is a DeadLetterSink other than *DeadLetter, failing on demand.
type recordingSink struct {
	mu      sync.Mutex
	entries []action.Entry
	fail    error
}

func (s *recordingSink) Record(_ context.Context, e action.Entry) (action.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return action.Entry{}, s.fail
	}
	s.entries = append(s.entries, e)
	return e, nil
}

func TestWithDeadLetterTakesAnySink(t *testing.T) {
	boom := faults.Permanentf("boom")
	failing := action.New("fail", func(context.Context, *action.JobInfo, int) (int, error) { return 0, boom })

	t.Run("records", func(t *testing.T) {
		sink := &recordingSink{}
		_, err := runFailing(t, failing, sink, "j1", 7)
		if !errors.Is(err, boom) {
			t.Fatalf("Run = %v, want %v", err, boom)
		}
		if len(sink.entries) != 1 || sink.entries[0].JobID != "j1" || sink.entries[0].Input != 7 {
			t.Fatalf("sink holds %+v, want one entry for job j1 with input 7", sink.entries)
		}
	})
	t.Run("a failed record is not silent", func(t *testing.T) {
		down := errors.New("store down")
		sink := &recordingSink{fail: down}
		_, err := runFailing(t, failing, sink, "j2", 1)
		if !errors.Is(err, boom) || !errors.Is(err, down) {
			t.Fatalf("Run = %v, want an error wrapping both %v and %v", err, boom, down)
		}
		if faults.ClassOf(err) != faults.Permanent {
			t.Errorf("ClassOf(%v) = %v, want permanent", err, faults.ClassOf(err))
		}
	})
}

func runFailing(t *testing.T, a action.Action[int, int], sink action.DeadLetterSink, job string, in int) (int, error) {
	t.Helper()
	p, err := action.NewPipeline[int, int]("p", []action.Stage{a}, action.WithDeadLetter(sink))
	if err != nil {
		t.Fatal(err)
	}
	return p.Run(context.Background(), &action.JobInfo{JobID: job}, in)
}
