package statushub

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/internal/browser"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// rowIs is a JavaScript condition: the page's row for job shows status.
func rowIs(job string, st status.Status) string {
	return fmt.Sprintf(`(function () { var tr = document.querySelector('tr[data-job=%q]'); return !!tr && tr.dataset.status === %q && tr.cells[1].textContent === %q; })()`,
		job, st, st)
}

// TestPageInBrowser loads the status page in headless Chromium. It shows the
// jobs published before it loaded (from the snapshot), and then, live over
// its WebSocket, a status change of one of them and a new job, both published
// after the page had loaded and connected. It fails, not skips, without
// Chromium under IW_BROWSER_TESTS=1 (as `make test` runs it).
func TestPageInBrowser(t *testing.T) {
	bin := browser.Require(t)

	hub := newTestHub(t, HubConfig{})
	h, err := NewEndpoint(hub, EndpointConfig{})
	if err != nil {
		t.Fatalf("NewEndpoint() = %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/status/", PageHandler("ws")) // relative: resolves to /status/ws
	mux.Handle("/status/ws", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})

	// Before the page loads: job-1 is being retried; job-2 has failed.
	for _, e := range []status.Event{
		ev("job-1", status.Pending, 0),
		ev("job-1", status.Processing, 1),
		{JobID: "job-1", WorkerID: "w1", Status: status.Retrying, Attempt: 1, Error: "dial tcp: i/o timeout", ErrorClass: "transient"},
		ev("job-2", status.Pending, 0),
		{JobID: "job-2", WorkerID: "w2", Status: status.Failed, Attempt: 1, Error: "invalid input", ErrorClass: "permanent"},
	} {
		hub.Publish(e)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*guard)
	defer cancel()
	page, err := browser.Open(ctx, bin, srv.URL+"/status/")
	if err != nil {
		t.Fatalf("open the status page in chromium: %v", err)
	}
	defer page.Close()

	for _, w := range []struct {
		what, cond string
	}{
		{"job-1 RETRYING (snapshot)", rowIs("job-1", status.Retrying)},
		{"job-2 FAILED (snapshot)", rowIs("job-2", status.Failed)},
		{"the WebSocket open", `document.getElementById("conn").dataset.state === "live"`},
	} {
		if err := page.WaitFor(ctx, w.what, w.cond); err != nil {
			t.Fatal(err)
		}
	}
	waitSubscribers(t, hub, 1) // the page's WebSocket is subscribed: what follows is live

	// After the page loaded and connected: job-1 completes, job-3 appears.
	hub.Publish(ev("job-1", status.Processing, 2))
	hub.Publish(ev("job-1", status.Completed, 2))
	hub.Publish(ev("job-3", status.Processing, 1))
	hub.Publish(ev("job-3", status.Completed, 1))
	for _, w := range []struct {
		what, cond string
	}{
		{"job-1 changed to COMPLETED (live)", rowIs("job-1", status.Completed)},
		{"job-3 COMPLETED (live)", rowIs("job-3", status.Completed)},
		{"job-2 still FAILED", rowIs("job-2", status.Failed)},
	} {
		if err := page.WaitFor(ctx, w.what, w.cond); err != nil {
			t.Error(err)
		}
	}
	var attempt string
	if err := page.Eval(ctx, `document.querySelector('tr[data-job="job-1"]').cells[2].textContent`, &attempt); err != nil {
		t.Fatal(err)
	}
	if attempt != "2" {
		t.Errorf("job-1 row shows attempt %q, want %q", attempt, "2")
	}
	if st := h.Stats(); st.SlowDropped != 0 {
		t.Errorf("handler Stats() = %+v, want SlowDropped 0", st)
	}
}
