package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/isolated-workers/isolated-workers-go/examples/jobs/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/host/statushub"
	"github.com/isolated-workers/isolated-workers-go/internal/browser"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// statusServer is a hub fed by real jobs workers, served over WebSocket and
// as the status page.
type statusServer struct {
	hub     *statushub.Hub
	ws      *statushub.Endpoint
	srv     *httptest.Server
	workers []*host.Worker
}

func newStatusServer(t *testing.T, nWorkers int, wsCfg statushub.EndpointConfig, smallBuffers bool) *statusServer {
	t.Helper()
	hub, err := statushub.NewHub(statushub.HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := statushub.NewEndpoint(hub, wsCfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", statushub.PageHandler("ws"))
	mux.Handle("/ws", ws)
	srv := httptest.NewUnstartedServer(mux)
	if smallBuffers {
		srv.Listener = smallWriteBuffers{srv.Listener}
	}
	srv.Start()
	s := &statusServer{hub: hub, ws: ws, srv: srv}
	t.Cleanup(func() {
		for _, w := range s.workers {
			w.Close()
		}
		ws.Close()
		srv.Close()
		hub.Close()
	})
	for i := range nWorkers {
		s.workers = append(s.workers, start(t, host.Config{
			Cmd:       exec.Command(bins["jobs-worker"]),
			Handshake: protocol.Handshake,
			Name:      fmt.Sprintf("jobs-%d", i+1),
			Status:    hub,
		}))
	}
	return s
}

// smallWriteBuffers makes a stalled client block the server quickly.
type smallWriteBuffers struct{ net.Listener }

func (l smallWriteBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// run runs jobs on the workers, up to 16 at a time.
func (s *statusServer) run(ctx context.Context, jobs []protocol.Job) []error {
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, j := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx := shared.WithHeader(ctx, shared.TraceParentHeader, fmt.Sprintf("00-%032x-%016x-01", i+1, i+1))
			_, errs[i] = host.Call(ctx, s.workers[i%len(s.workers)], protocol.Run, j)
		}()
	}
	wg.Wait()
	return errs
}

func dialStatus(t *testing.T, ctx context.Context, s *statusServer) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial status WebSocket: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestWorkerStatusEventsReachWebSocketClientInOrder(t *testing.T) {
	s := newStatusServer(t, 2, statushub.EndpointConfig{RatePerSecond: 1e6, Burst: 1e6}, false)
	ctx := ctxT(t)
	c := dialStatus(t, ctx, s)
	// The client is subscribed once it has read something the hub
	// published after it connected (in its snapshot or live): only then do
	// the jobs start, so it sees every one of their events.
	s.hub.Publish(status.Event{JobID: "subscribed", Status: status.Completed, Time: time.Now()})
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read the subscription marker: %v", err)
		}
		var ev status.Event
		if json.Unmarshal(b, &ev) == nil && ev.JobID == "subscribed" {
			break
		}
	}
	jobs := []protocol.Job{
		{ID: "ok-1", Input: "a"},
		{ID: "flaky-2", Input: "b", FlakyAttempts: 2},
		{ID: "bad-3", Input: "c", Invalid: true},
		{ID: "ok-4", Input: "d", WorkMillis: 20},
	}
	// Read events until every job has reached its final state.
	got := map[string][]status.Event{}
	done := make(chan error, 1)
	go func() {
		final := 0
		for final < len(jobs) {
			_, b, err := c.Read(ctx)
			if err != nil {
				done <- err
				return
			}
			var ev status.Event
			if err := json.Unmarshal(b, &ev); err != nil {
				done <- fmt.Errorf("event JSON %s: %w", b, err)
				return
			}
			got[ev.JobID] = append(got[ev.JobID], ev)
			if ev.Status == status.Completed || ev.Status == status.Failed {
				final++
			}
		}
		done <- nil
	}()
	s.run(ctx, jobs)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ok-1":    "PROCESSING COMPLETED",
		"flaky-2": "PROCESSING RETRYING RETRYING COMPLETED",
		"bad-3":   "PROCESSING FAILED",
		"ok-4":    "PROCESSING COMPLETED",
	}
	for id, seq := range want {
		var names []string
		for _, ev := range got[id] {
			names = append(names, string(ev.Status))
			if ev.WorkerID == "" || ev.Time.IsZero() {
				t.Errorf("job %s event %+v lacks worker id or time", id, ev)
			}
			if !strings.HasPrefix(ev.Headers[shared.TraceParentHeader], "00-") {
				t.Errorf("job %s event %s has no traceparent: %v", id, ev.Status, ev.Headers)
			}
		}
		if strings.Join(names, " ") != seq {
			t.Errorf("job %s events = %v, want %s", id, names, seq)
		}
	}
	last := got["bad-3"][len(got["bad-3"])-1]
	if last.ErrorClass != "permanent" || !strings.Contains(last.Error, "not a valid order") {
		t.Errorf("FAILED event = %+v, want the permanent error", last)
	}
}

// TestStalledWebSocketClientIsDroppedWhileJobsComplete: a status client that
// never reads does not slow 1,000 jobs on real workers, and is disconnected
// once a write to it has waited WriteTimeout, and counted.
func TestStalledWebSocketClientIsDroppedWhileJobsComplete(t *testing.T) {
	dropped := make(chan string, 1)
	s := newStatusServer(t, 2, statushub.EndpointConfig{
		RatePerSecond: 1e6, Burst: 1e6, WriteTimeout: time.Second,
		OnDrop: func(_, reason string) { dropped <- reason },
	}, true)
	ctx := ctxT(t)
	stalled := dialStatus(t, ctx, s) // never reads
	_ = stalled
	jobs := make([]protocol.Job, 1000)
	for i := range jobs {
		jobs[i] = protocol.Job{ID: fmt.Sprintf("job-%04d", i), Input: strings.Repeat("payload ", 20)}
	}
	errs := s.run(ctx, jobs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	select {
	case reason := <-dropped:
		if !strings.Contains(reason, "WriteTimeout") {
			t.Errorf("drop reason = %q, want it to name WriteTimeout", reason)
		}
	case <-ctx.Done():
		t.Fatalf("stalled client not dropped: %v; handler stats %+v", ctx.Err(), s.ws.Stats())
	}
	if st := s.ws.Stats(); st.SlowDropped != 1 {
		t.Errorf("handler Stats().SlowDropped = %d, want 1", st.SlowDropped)
	}
	if st := s.hub.Stats(); st.Published < 2000 {
		t.Errorf("hub published %d events for 1000 jobs, want at least 2000 (PROCESSING and COMPLETED each)", st.Published)
	}
}

// TestStatusPageShowsJobsInBrowser loads the status page in headless
// Chromium with real jobs workers behind the hub: a job that ran before the
// page loaded is shown from the snapshot, and jobs run after it loaded and
// connected appear live with their final status. Under IW_BROWSER_TESTS=1
// (as `make test` runs it) it fails, not skips, without Chromium.
func TestStatusPageShowsJobsInBrowser(t *testing.T) {
	chromium := browser.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := newStatusServer(t, 1, statushub.EndpointConfig{}, false)
	for _, err := range s.run(ctx, []protocol.Job{{ID: "page-job-0", Input: "w"}}) {
		if err != nil {
			t.Fatalf("job before the page loaded: %v", err)
		}
	}

	page, err := browser.Open(ctx, chromium, s.srv.URL+"/")
	if err != nil {
		t.Fatalf("open the status page in chromium: %v", err)
	}
	defer page.Close()
	for _, w := range []struct{ what, cond string }{
		{"page-job-0 COMPLETED (snapshot)", rowIs("page-job-0", status.Completed)},
		{"the WebSocket open", `document.getElementById("conn").dataset.state === "live"`},
	} {
		if err := page.WaitFor(ctx, w.what, w.cond); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the page's WebSocket subscribed to the hub", func() bool { return s.hub.Stats().Subscribers == 1 })

	// After the page loaded and connected.
	errs := s.run(ctx, []protocol.Job{
		{ID: "page-job-1", Input: "x"},
		{ID: "page-job-2", Input: "y", Invalid: true},
		{ID: "page-job-3", Input: "z", FlakyAttempts: 1},
	})
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("job errors = %v, want only page-job-2 to fail", errs)
	}
	for _, w := range []struct{ what, cond string }{
		{"page-job-1 COMPLETED (live)", rowIs("page-job-1", status.Completed)},
		{"page-job-2 FAILED (live)", rowIs("page-job-2", status.Failed)},
		{"page-job-3 COMPLETED after a retry (live)", rowIs("page-job-3", status.Completed)},
	} {
		if err := page.WaitFor(ctx, w.what, w.cond); err != nil {
			t.Error(err)
		}
	}
	var errText string
	if err := page.Eval(ctx, `document.querySelector('tr[data-job="page-job-2"]').cells[4].textContent`, &errText); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errText, "permanent") || !strings.Contains(errText, "not a valid order") {
		t.Errorf("page-job-2 error cell = %q, want the permanent error", errText)
	}
}

// rowIs is a JavaScript condition: the status page's row for job shows st.
func rowIs(job string, st status.Status) string {
	return fmt.Sprintf(`(function () { var tr = document.querySelector('tr[data-job=%q]'); return !!tr && tr.dataset.status === %q && tr.cells[1].textContent === %q; })()`,
		job, st, st)
}
