package statushub_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/isolated-workers/isolated-workers-go/host/statushub"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// A Hub fans events out to subscribers; Publish never waits for them.
func ExampleHub() {
	hub, err := statushub.NewHub(statushub.HubConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()

	// Only failures, e.g. for alerting.
	failures, err := hub.Subscribe(context.Background(), func(ev status.Event) bool {
		return ev.Status == status.Failed
	})
	if err != nil {
		log.Fatal(err)
	}

	hub.Publish(status.Event{JobID: "resize-1", Status: status.Processing, Attempt: 1})
	hub.Publish(status.Event{JobID: "resize-1", Status: status.Failed, Attempt: 1, Error: "invalid input", ErrorClass: "permanent"})
	failures.Close()

	for ev := range failures.C() {
		fmt.Printf("%s %s: %s\n", ev.JobID, ev.Status, ev.Error)
	}
	for _, ev := range hub.Snapshot() {
		fmt.Printf("latest: %s %s\n", ev.JobID, ev.Status)
	}
	fmt.Printf("%+v\n", hub.Stats())
	// Output:
	// resize-1 FAILED: invalid input
	// latest: resize-1 FAILED
	// {Published:2 Delivered:1 Coalesced:0 Dropped:0 Subscribers:0}
}

// NewEndpoint streams the hub's events to WebSocket clients as JSON, one event
// per message, starting with the snapshot.
func ExampleNewEndpoint() {
	hub, err := statushub.NewHub(statushub.HubConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	ws, err := statushub.NewEndpoint(hub, statushub.EndpointConfig{})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(ws)
	defer srv.Close()
	defer ws.Close() // hijacked connections are not closed by srv.Close

	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	hub.Publish(status.Event{JobID: "job-1", WorkerID: "w1", Status: status.Completed, Attempt: 1, Time: at})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.URL, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	_, msg, err := c.Read(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg))
	// Output:
	// {"jobId":"job-1","workerId":"w1","status":"COMPLETED","attempt":1,"time":"2025-01-02T03:04:05Z"}
}

// A host serves the status page next to the WebSocket endpoint. The page
// path "ws" is relative, so it resolves to /status/ws here.
func ExamplePageHandler() {
	hub, err := statushub.NewHub(statushub.HubConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	ws, err := statushub.NewEndpoint(hub, statushub.EndpointConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()

	mux := http.NewServeMux()
	mux.Handle("/status/", statushub.PageHandler("ws"))
	mux.Handle("/status/ws", ws)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/status/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	fmt.Println(strings.Contains(string(page), `<meta name="iw-status-ws" content="ws">`))
	// Output:
	// 200 OK text/html; charset=utf-8
	// true
}
