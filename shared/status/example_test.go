package status_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// An Event's JSON form is what a WebSocket client of host/statushub reads.
func ExampleEvent() {
	ev := status.Event{
		JobID:      "job-42",
		WorkerID:   "worker-4242",
		Status:     status.Retrying,
		Attempt:    1,
		Error:      "dial tcp 10.0.0.7:443: i/o timeout",
		ErrorClass: "transient",
		Time:       time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC),
		Headers:    map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output:
	// {"jobId":"job-42","workerId":"worker-4242","status":"RETRYING","attempt":1,"error":"dial tcp 10.0.0.7:443: i/o timeout","errorClass":"transient","time":"2025-01-02T03:04:05.123456789Z","headers":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
}

// PublisherFunc turns a function into a Publisher, here one that prints
// each job's status changes.
func ExamplePublisherFunc() {
	var pub status.Publisher = status.PublisherFunc(func(ev status.Event) {
		fmt.Println(ev.JobID, ev.Status, ev.Attempt)
	})
	pub.Publish(status.Event{JobID: "job-1", Status: status.Pending})
	pub.Publish(status.Event{JobID: "job-1", Status: status.Processing, Attempt: 1})
	pub.Publish(status.Event{JobID: "job-1", Status: status.Completed, Attempt: 1})
	// Output:
	// job-1 PENDING 0
	// job-1 PROCESSING 1
	// job-1 COMPLETED 1
}
