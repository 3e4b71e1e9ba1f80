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
	"github.com/isolated-workers/isolated-workers-go/internal/browser"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// statusServer is a hub fed by real jobs workers, served over WebSocket and
// as the status page.
type statusServer struct {
	hub     *status.Hub
	ws      *status.Handler
	srv     *httptest.Server
	workers []*host.Worker
}

func newStatusServer(t *testing.T, nWorkers int, wsCfg status.HandlerConfig, smallBuffers bool) *statusServer {
	t.Helper()
	hub, err := status.NewHub(status.HubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := status.NewHandler(hub, wsCfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", status.PageHandler("ws"))
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
	s := newStatusServer(t, 2, status.HandlerConfig{RatePerSecond: 1e6, Burst: 1e6}, false)
	ctx := ctxT(t)
	c := dialStatus(t, ctx, s)
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

func TestStalledWebSocketClientIsDroppedWhileJobsComplete(t *testing.T) {
	s := newStatusServer(t, 2, status.HandlerConfig{RatePerSecond: 1e6, Burst: 1e6, WriteTimeout: time.Second}, true)
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
	eventually(t, "the stalled client to be dropped", func() bool {
		return s.hub.Stats().Dropped+s.ws.Stats().SlowDropped > 0
	})
	if st := s.hub.Stats(); st.Published < 2000 {
		t.Errorf("hub published %d events for 1000 jobs, want at least 2000 (PROCESSING and COMPLETED each)", st.Published)
	}
}

func TestStatusPageShowsCompletedJobInBrowser(t *testing.T) {
	ctx := ctxT(t)
	chromium, err := browser.Find(ctx)
	if err != nil {
		t.Skip(err)
	}
	s := newStatusServer(t, 1, status.HandlerConfig{}, false)
	for _, err := range s.run(ctx, []protocol.Job{{ID: "page-job-1", Input: "x"}, {ID: "page-job-2", Input: "y", Invalid: true}}) {
		_ = err
	}
	dom, err := browser.DumpDOM(ctx, chromium, s.srv.URL+"/", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<tr data-job="page-job-1" data-status="COMPLETED">`,
		`<tr data-job="page-job-2" data-status="FAILED">`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("page DOM lacks %s:\n%s", want, dom)
		}
	}
}
