package statushub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// guard bounds how long a test waits for something that should happen
// promptly; reaching it is a failure (a hang), never a timing assertion.
const guard = 20 * time.Second

type testServer struct {
	hub     *Hub
	handler *Endpoint
	srv     *httptest.Server
	wsURL   string
}

// startServer serves a Endpoint for a new hub on a real loopback socket. If
// smallFirst, the first accepted connection gets a 4 KiB kernel send buffer,
// so that a client that does not read stalls the server's writes quickly.
func startServer(t *testing.T, hubCfg HubConfig, cfg EndpointConfig, smallFirst bool) *testServer {
	t.Helper()
	hub := newTestHub(t, hubCfg)
	h, err := NewEndpoint(hub, cfg)
	if err != nil {
		t.Fatalf("NewEndpoint(%+v) = %v", cfg, err)
	}
	srv := httptest.NewUnstartedServer(h)
	if smallFirst {
		srv.Listener = &smallFirstListener{Listener: srv.Listener}
	}
	srv.Start()
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return &testServer{hub: hub, handler: h, srv: srv, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

type smallFirstListener struct {
	net.Listener
	once sync.Once
}

func (l *smallFirstListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		l.once.Do(func() { tc.SetWriteBuffer(4096) })
	}
	return c, err
}

// dial connects a WebSocket client, closed at the end of the test. If
// smallBuffers, its kernel receive buffer is 4 KiB.
func dial(t *testing.T, url string, header http.Header, smallBuffers bool) *websocket.Conn {
	t.Helper()
	c, resp, err := tryDial(t, url, header, smallBuffers)
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
		t.Fatalf("Dial(%s) = %v (body %q)", url, err, body)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func tryDial(t *testing.T, url string, header http.Header, smallBuffers bool) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok && smallBuffers {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}, HTTPHeader: header})
}

// readEvent reads one message and decodes it as an Event.
func readEvent(t *testing.T, c *websocket.Conn) (status.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		return status.Event{}, err
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type = %v, want text", typ)
	}
	var e status.Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("message %q is not an Event: %v", b, err)
	}
	return e, nil
}

func mustReadEvent(t *testing.T, c *websocket.Conn) status.Event {
	t.Helper()
	e, err := readEvent(t, c)
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	return e
}

// waitFor polls cond until it holds, failing the test at the guard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitSubscribers(t *testing.T, hub *Hub, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d hub subscribers", n), func() bool { return hub.Stats().Subscribers == n })
}

func TestHandlerConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     EndpointConfig
		wantErr bool
	}{
		{name: "zero value", cfg: EndpointConfig{}},
		{name: "no rate limit", cfg: EndpointConfig{RatePerSecond: math.Inf(1)}},
		{name: "negative max clients", cfg: EndpointConfig{MaxClients: -1}, wantErr: true},
		{name: "negative rate", cfg: EndpointConfig{RatePerSecond: -1}, wantErr: true},
		{name: "NaN rate", cfg: EndpointConfig{RatePerSecond: math.NaN()}, wantErr: true},
		{name: "negative burst", cfg: EndpointConfig{Burst: -1}, wantErr: true},
		{name: "negative write timeout", cfg: EndpointConfig{WriteTimeout: -time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want it to wrap ErrInvalidConfig", err)
			}
		})
	}
	if _, err := NewEndpoint(nil, EndpointConfig{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewEndpoint(nil hub) = %v, want ErrInvalidConfig", err)
	}
}

func TestWebSocketStreamsInOrderPerJob(t *testing.T) {
	ts := startServer(t, HubConfig{}, EndpointConfig{}, false)
	c := dial(t, ts.wsURL, nil, false)
	waitSubscribers(t, ts.hub, 1)

	var want []status.Event
	for _, job := range []string{"a", "b", "c"} {
		e := ev(job, status.Pending, 0)
		e.Headers = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
		e.Data = json.RawMessage(`{"n":1}`)
		want = append(want, e)
	}
	for _, st := range []status.Status{status.Processing, status.Retrying, status.Processing, status.Completed} {
		for _, job := range []string{"a", "b", "c"} {
			want = append(want, ev(job, st, 1))
		}
	}
	for _, e := range want {
		ts.hub.Publish(e)
	}

	var got []status.Event
	for range want {
		got = append(got, mustReadEvent(t, c))
	}
	// Within the default rate and burst nothing is coalesced: every event
	// arrives, in publish order.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received events (-want +got):\n%s", diff)
	}
	// Sent is counted after a write returns, which may be after the read.
	waitFor(t, fmt.Sprintf("Stats().Sent = %d", len(want)), func() bool { return ts.handler.Stats().Sent == uint64(len(want)) })
	if st := ts.handler.Stats(); st.Coalesced != 0 || st.Clients != 1 {
		t.Errorf("Stats() = %+v, want Coalesced 0, Clients 1", st)
	}
}

func TestWebSocketMaxClients(t *testing.T) {
	ts := startServer(t, HubConfig{}, EndpointConfig{MaxClients: 1}, false)
	dial(t, ts.wsURL, nil, false)
	waitSubscribers(t, ts.hub, 1)

	c, resp, err := tryDial(t, ts.wsURL, nil, false)
	if err == nil {
		c.CloseNow()
		t.Fatal("second Dial succeeded, want HTTP 503")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second Dial response = %v, want status 503", resp)
	}
	body, _ := io.ReadAll(resp.Body)
	const wantBody = "too many status clients: 1 are connected, the limit (EndpointConfig.MaxClients) is 1; close another status page or try again later\n"
	if string(body) != wantBody {
		t.Errorf("503 body = %q, want %q", body, wantBody)
	}
	if st := ts.handler.Stats(); st.Rejected != 1 || st.Clients != 1 {
		t.Errorf("Stats() = %+v, want Rejected 1, Clients 1", st)
	}
}

func TestWebSocketOriginPatterns(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		origin   string
		wantOK   bool
	}{
		{name: "no origin header", wantOK: true},
		{name: "cross origin refused by default", origin: "http://elsewhere.example", wantOK: false},
		{name: "cross origin allowed by pattern", patterns: []string{"*.example"}, origin: "http://elsewhere.example", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, HubConfig{}, EndpointConfig{OriginPatterns: tt.patterns}, false)
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			c, resp, err := tryDial(t, ts.wsURL, h, false)
			if err == nil {
				c.CloseNow()
			}
			if (err == nil) != tt.wantOK {
				t.Fatalf("Dial with Origin %q = %v, want success: %v", tt.origin, err, tt.wantOK)
			}
			if !tt.wantOK && resp.StatusCode != http.StatusForbidden {
				t.Errorf("status = %d, want 403", resp.StatusCode)
			}
		})
	}
}

// TestWebSocketStalledClientDropped is the slow-client policy end to end,
// with the hub's default buffer: one client never reads; 1,000 events are
// published while it stalls, every Publish returns, a healthy client receives
// them all in order, and the stalled client, and only it, is disconnected
// once a write to it has waited WriteTimeout, and counted.
func TestWebSocketStalledClientDropped(t *testing.T) {
	type drop struct{ id, reason string }
	drops := make(chan drop, 2)
	ts := startServer(t,
		HubConfig{},
		EndpointConfig{
			RatePerSecond: math.Inf(1),
			WriteTimeout:  500 * time.Millisecond,
			OnDrop:        func(id, reason string) { drops <- drop{id, reason} },
		},
		true)
	// The stalled client never reads; both ends of its connection have small
	// kernel buffers. It connects first, to get the small server buffer.
	dial(t, ts.wsURL, nil, true)
	waitSubscribers(t, ts.hub, 1)
	healthy := dial(t, ts.wsURL, nil, false)
	waitSubscribers(t, ts.hub, 2)

	const n = 1000
	// The healthy client reads all the time, as a browser does.
	received := make(chan []string, 1)
	go func() {
		var jobs []string
		for range n {
			e, err := readEvent(t, healthy)
			if err != nil {
				t.Errorf("healthy client: Read() = %v after %d events", err, len(jobs))
				break
			}
			jobs = append(jobs, e.JobID)
		}
		received <- jobs
	}()

	payload := json.RawMessage(`"` + strings.Repeat("x", 1024) + `"`)
	var returned atomic.Int64
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range n {
			e := ev(fmt.Sprintf("job-%04d", i), status.Completed, 1)
			e.Data = payload
			ts.hub.Publish(e)
			returned.Add(1)
		}
	}()
	select {
	case <-published:
	case <-time.After(guard):
		t.Fatalf("Publish blocked: %d of %d calls returned while a client stalled", returned.Load(), n)
	}
	if got := returned.Load(); got != n {
		t.Fatalf("%d Publish calls returned, want %d", got, n)
	}

	jobs := <-received
	if len(jobs) != n {
		t.Fatalf("healthy client received %d events, want %d", len(jobs), n)
	}
	for i, job := range jobs {
		if want := fmt.Sprintf("job-%04d", i); job != want {
			t.Fatalf("healthy client event %d is for %q, want %q", i, job, want)
		}
	}

	var d drop
	select {
	case d = <-drops:
	case <-time.After(guard):
		t.Fatalf("stalled client not dropped; handler Stats() = %+v", ts.handler.Stats())
	}
	if !strings.Contains(d.reason, "WriteTimeout") {
		t.Errorf("OnDrop reason = %q, want it to name WriteTimeout", d.reason)
	}
	// OnDrop runs after the client is counted and its subscription closed.
	if st := ts.handler.Stats(); st.SlowDropped != 1 {
		t.Errorf("handler Stats().SlowDropped = %d, want 1", st.SlowDropped)
	}
	if st := ts.hub.Stats(); st.Subscribers != 1 || st.Published != n || st.Dropped != 0 {
		t.Errorf("hub Stats() = %+v, want Subscribers 1 (the healthy client), Published %d, Dropped 0", st, n)
	}
	select {
	case d := <-drops:
		t.Errorf("second client dropped (%s: %s): want only the stalled one", d.id, d.reason)
	default:
	}
	// The healthy client is still served.
	ts.hub.Publish(ev("after", status.Completed, 1))
	if e := mustReadEvent(t, healthy); e.JobID != "after" {
		t.Errorf("healthy client's next event is for %q, want %q", e.JobID, "after")
	}
}

// TestWebSocketRateLimitCoalesces publishes a burst for one job far above the
// client's rate: the client receives fewer messages, in order, ending with
// the job's final state.
func TestWebSocketRateLimitCoalesces(t *testing.T) {
	ts := startServer(t, HubConfig{}, EndpointConfig{RatePerSecond: 20, Burst: 1}, false)
	c := dial(t, ts.wsURL, nil, false)
	waitSubscribers(t, ts.hub, 1)

	const n = 100
	for i := 1; i <= n; i++ {
		ts.hub.Publish(ev("a", status.Processing, i))
	}
	ts.hub.Publish(ev("a", status.Completed, n))

	var got []status.Event
	for {
		e := mustReadEvent(t, c)
		got = append(got, e)
		if e.Status == status.Completed {
			break
		}
	}
	if len(got) >= n {
		t.Errorf("received %d messages for %d events at 20/s, want coalescing to send fewer", len(got), n+1)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Attempt < got[i-1].Attempt {
			t.Errorf("event %d has attempt %d after attempt %d: per-job order broken", i, got[i].Attempt, got[i-1].Attempt)
		}
	}
	if diff := cmp.Diff(ev("a", status.Completed, n), got[len(got)-1]); diff != "" {
		t.Errorf("last event (-want +got):\n%s", diff)
	}
	// Sent is counted after a write returns, which may be after the client
	// has read the message.
	waitFor(t, fmt.Sprintf("Stats() Sent+Coalesced = %d (every event sent or coalesced)", n+1), func() bool {
		st := ts.handler.Stats()
		return st.Sent+st.Coalesced == n+1
	})
	if st := ts.handler.Stats(); st.Sent != uint64(len(got)) {
		t.Errorf("Stats().Sent = %d, want %d (messages received)", st.Sent, len(got))
	}
}

func TestWebSocketSnapshotOnConnect(t *testing.T) {
	tests := []struct {
		name string
		cfg  EndpointConfig
		want []status.Event
	}{
		{
			name: "snapshot then live",
			want: []status.Event{ev("a", status.Completed, 1), ev("b", status.Processing, 2), ev("c", status.Pending, 0)},
		},
		{
			name: "SkipSnapshot sends only live",
			cfg:  EndpointConfig{SkipSnapshot: true},
			want: []status.Event{ev("c", status.Pending, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, HubConfig{}, tt.cfg, false)
			for _, e := range []status.Event{ev("a", status.Pending, 0), ev("b", status.Pending, 0), ev("a", status.Completed, 1), ev("b", status.Processing, 2)} {
				ts.hub.Publish(e)
			}
			c := dial(t, ts.wsURL, nil, false)
			waitSubscribers(t, ts.hub, 1)
			ts.hub.Publish(ev("c", status.Pending, 0))

			var got []status.Event
			for range tt.want {
				got = append(got, mustReadEvent(t, c))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebSocketSkipsUnencodableEvent(t *testing.T) {
	ts := startServer(t, HubConfig{}, EndpointConfig{}, false)
	c := dial(t, ts.wsURL, nil, false)
	waitSubscribers(t, ts.hub, 1)

	bad := ev("bad", status.Completed, 1)
	bad.Data = json.RawMessage(`{not json`)
	ts.hub.Publish(bad)
	ts.hub.Publish(ev("good", status.Completed, 1))

	if got := mustReadEvent(t, c); got.JobID != "good" {
		t.Errorf("first event is for %q, want %q (the invalid one skipped)", got.JobID, "good")
	}
}

func TestWebSocketClosed(t *testing.T) {
	tests := []struct {
		name  string
		close func(ts *testServer)
	}{
		{name: "hub closed", close: func(ts *testServer) { ts.hub.Close() }},
		{name: "handler closed", close: func(ts *testServer) { ts.handler.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, HubConfig{}, EndpointConfig{}, false)
			c := dial(t, ts.wsURL, nil, false)
			waitSubscribers(t, ts.hub, 1)

			// Read concurrently: Endpoint.Close waits for the close handshake.
			read := make(chan error, 1)
			go func() {
				_, _, err := c.Read(context.Background())
				read <- err
			}()
			tt.close(ts)
			err := <-read
			if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
				t.Errorf("Read() after close = %v, want close status %v", err, websocket.StatusGoingAway)
			}
			waitFor(t, "no connected clients", func() bool { return ts.handler.Stats().Clients == 0 })
		})
	}
}

func TestWebSocketRefusedAfterHandlerClose(t *testing.T) {
	ts := startServer(t, HubConfig{}, EndpointConfig{}, false)
	ts.handler.Close()
	ts.handler.Close() // idempotent
	c, resp, err := tryDial(t, ts.wsURL, nil, false)
	if err == nil {
		c.CloseNow()
		t.Fatal("Dial after Endpoint.Close succeeded, want HTTP 503")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Dial after Endpoint.Close: response %v, want status 503", resp)
	}
}

func TestHandlerSnapshotOverGET(t *testing.T) {
	ts := startServer(t, HubConfig{}, EndpointConfig{MaxClients: 1}, false)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	tests := []struct {
		name    string
		publish []status.Event
		want    []status.Event
	}{
		{name: "empty", want: []status.Event{}},
		{
			name:    "latest per job",
			publish: []status.Event{ev("a", status.Pending, 0), ev("b", status.Pending, 0), ev("a", status.Completed, 1)},
			want:    []status.Event{ev("b", status.Pending, 0), ev("a", status.Completed, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range tt.publish {
				ts.hub.Publish(e)
			}
			resp, err := http.Get(ts.srv.URL)
			if err != nil {
				t.Fatalf("GET = %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET status = %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			var got []status.Event
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatalf("decode snapshot: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
		})
	}
	if st := ts.handler.Stats(); st.Accepted != 0 || st.Rejected != 0 {
		t.Errorf("Stats() = %+v, want plain GETs not counted as clients", st)
	}
}

// burstStatus is the status of step i of n for job j in a burst: PENDING,
// then PROCESSING and RETRYING in turn, and at the last step COMPLETED or
// FAILED (every third job fails).
func burstStatus(j, i, n int) status.Status {
	switch {
	case i == 0:
		return status.Pending
	case i == n-1 && j%3 == 2:
		return status.Failed
	case i == n-1:
		return status.Completed
	case i%2 == 1:
		return status.Processing
	default:
		return status.Retrying
	}
}

// TestWebSocketBurstReachesReadingClient publishes 10,000 events in a tight
// loop (500 jobs, 20 states each, interleaved) while a client reads all the
// time, with the default configuration. The client is not disconnected, sees
// each job's events in publish order, and ends with every job's final state.
func TestWebSocketBurstReachesReadingClient(t *testing.T) {
	var hubDrops, clientDrops atomic.Int64
	ts := startServer(t,
		HubConfig{OnDrop: func(string, string) { hubDrops.Add(1) }},
		EndpointConfig{OnDrop: func(string, string) { clientDrops.Add(1) }},
		false)
	c := dial(t, ts.wsURL, nil, false)
	waitSubscribers(t, ts.hub, 1)

	const jobs, states = 500, 20
	type result struct {
		last map[string]status.Event
		n    int
		err  error
	}
	received := make(chan result, 1)
	go func() {
		r := result{last: make(map[string]status.Event)}
		final := 0
		for final < jobs {
			e, err := readEvent(t, c)
			if err != nil {
				r.err = fmt.Errorf("Read() after %d messages, %d of %d jobs final: %w", r.n, final, jobs, err)
				break
			}
			r.n++
			if prev, ok := r.last[e.JobID]; ok && e.Attempt < prev.Attempt {
				r.err = fmt.Errorf("job %s: step %d arrived after step %d: per-job order broken", e.JobID, e.Attempt, prev.Attempt)
				break
			}
			r.last[e.JobID] = e
			if e.Status == status.Completed || e.Status == status.Failed {
				final++
			}
		}
		received <- r
	}()

	want := make(map[string]status.Event, jobs)
	for i := range states {
		for j := range jobs {
			e := ev(fmt.Sprintf("job-%03d", j), burstStatus(j, i, states), i)
			ts.hub.Publish(e)
			want[e.JobID] = e
		}
	}
	r := <-received
	if r.err != nil {
		t.Fatalf("reading client: %v (handler stats %+v, hub stats %+v)", r.err, ts.handler.Stats(), ts.hub.Stats())
	}
	if diff := cmp.Diff(want, r.last); diff != "" {
		t.Errorf("each job's last event at the client (-want +got):\n%s", diff)
	}
	t.Logf("%d events published, %d messages received", jobs*states, r.n)
	if st := ts.handler.Stats(); st.SlowDropped != 0 || st.Clients != 1 {
		t.Errorf("handler Stats() = %+v, want SlowDropped 0, Clients 1", st)
	}
	if st := ts.hub.Stats(); st.Dropped != 0 || st.Subscribers != 1 {
		t.Errorf("hub Stats() = %+v, want Dropped 0, Subscribers 1", st)
	}
	if n, m := hubDrops.Load(), clientDrops.Load(); n != 0 || m != 0 {
		t.Errorf("OnDrop called %d times by the hub, %d times by the handler; want 0", n, m)
	}
}

// TestWebSocketTooManyJobsWaitingDropsClient: a client's queue coalesces to
// one event per job, so what bounds it is the number of jobs; with more than
// the hub's MaxJobs waiting, the client is dropped and counted.
func TestWebSocketTooManyJobsWaitingDropsClient(t *testing.T) {
	reasons := make(chan string, 1)
	ts := startServer(t,
		HubConfig{MaxJobs: 10, SubscriberBuffer: 4},
		EndpointConfig{RatePerSecond: 0.001, Burst: 1, OnDrop: func(_, reason string) { reasons <- reason }},
		false)
	c := dial(t, ts.wsURL, nil, false)
	waitSubscribers(t, ts.hub, 1)
	ts.hub.Publish(ev("first", status.Pending, 0)) // takes the only token
	if e := mustReadEvent(t, c); e.JobID != "first" {
		t.Fatalf("first event is for %q, want %q", e.JobID, "first")
	}
	for i := range 11 {
		ts.hub.Publish(ev(fmt.Sprintf("job-%02d", i), status.Pending, 0))
	}
	select {
	case r := <-reasons:
		if !strings.Contains(r, "MaxJobs") {
			t.Errorf("OnDrop reason = %q, want it to name MaxJobs", r)
		}
	case <-time.After(guard):
		t.Fatalf("client with 11 jobs waiting (MaxJobs 10) not dropped; Stats() = %+v", ts.handler.Stats())
	}
	if st := ts.handler.Stats(); st.SlowDropped != 1 {
		t.Errorf("Stats().SlowDropped = %d, want 1", st.SlowDropped)
	}
}
