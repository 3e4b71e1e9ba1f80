package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/isolated-workers/isolated-workers-go/queue"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// A host enqueues jobs and consumes them; one fails for good and lands in
// the dead letters, with its error and class.
func Example() {
	dir, _ := os.MkdirTemp("", "iw-queue-example")
	defer os.RemoveAll(dir)

	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Config{StoreDir: dir}) // zero Config: the user's cache dir
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()

	q.Enqueue(ctx, queue.Job{ID: "invoice-1", Type: "invoice", Payload: []byte("42.00")})
	q.Enqueue(ctx, queue.Job{ID: "invoice-2", Type: "invoice", Payload: []byte("-1")})
	_, err = q.Enqueue(ctx, queue.Job{ID: "invoice-1", Type: "invoice"}) // a retried enqueue
	fmt.Println(errors.Is(err, queue.ErrDuplicate))

	cctx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go q.Consume(cctx, queue.ConsumerConfig{
		Retry: retry.Policy{MaxAttempts: 3},
		Status: status.PublisherFunc(func(ev status.Event) {
			if ev.Status == status.Completed || ev.Status == status.Failed {
				done <- struct{}{} // settled: acknowledged, or dead-lettered
			}
		}),
		Handler: func(ctx context.Context, job queue.Job) error {
			if string(job.Payload) == "-1" {
				return faults.Businessf("negative amount") // not retried
			}
			fmt.Println("ran", job.ID)
			return nil
		},
	})
	<-done
	<-done
	stop()

	dead, _ := q.DeadLetters().List(ctx)
	for _, e := range dead {
		fmt.Println("dead:", e.JobID, e.Err, faults.ClassOf(e.Err))
	}
	// Output:
	// true
	// ran invoice-1
	// dead: invoice-2 negative amount business
}
