// Command worker runs jobs as pipelines of actions (fetch, validate,
// transform) and reports each job's status to its host as it changes.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/isolated-workers/isolated-workers-go/examples/jobs/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

// pipeline is built once; every job runs through it.
var pipeline = mustPipeline()

func mustPipeline() *action.Pipeline[protocol.Job, string] {
	fetch := action.Wrap(action.New("fetch", func(ctx context.Context, ac *action.JobInfo, job protocol.Job) (protocol.Job, error) {
		if ac.Attempt <= job.FlakyAttempts {
			return job, faults.Transientf("fetch %s: upstream unavailable (attempt %d)", job.ID, ac.Attempt)
		}
		return job, nil
	}),
		// Retry transient failures in the worker, quickly: 3 attempts,
		// full jitter over 10 ms, 20 ms, capped at 50 ms.
		action.WithRetry(retry.Policy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}),
	)
	validate := action.New("validate", func(ctx context.Context, ac *action.JobInfo, job protocol.Job) (protocol.Job, error) {
		if job.Invalid {
			return job, faults.Permanentf("validate %s: input %q is not a valid order", job.ID, job.Input)
		}
		return job, nil
	})
	transform := action.New("transform", func(ctx context.Context, ac *action.JobInfo, job protocol.Job) (string, error) {
		select {
		case <-time.After(time.Duration(job.WorkMillis) * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return strings.ToUpper(job.Input), nil
	})
	p, err := action.NewPipeline[protocol.Job, string]("job", []action.Stage{fetch, validate, transform},
		action.WithErrorHandling(action.ErrorHandlingConfig{}),
	)
	if err != nil {
		panic(err)
	}
	return p
}

func main() {
	workerID := fmt.Sprintf("worker-%d", os.Getpid())
	plugin.Serve(plugin.Config{
		Handshake:          protocol.Handshake,
		DisconnectBehavior: plugin.ExitOnDisconnect,
		Handlers: plugin.Handlers(
			plugin.Handle(protocol.Run, func(ctx context.Context, job protocol.Job) (protocol.Result, error) {
				ac := &action.JobInfo{
					JobID:    job.ID,
					WorkerID: workerID,
					Logger:   plugin.Logger(ctx),
					Status:   plugin.StatusPublisher(ctx), // events travel to the host's hub
					Headers:  shared.HeadersFrom(ctx),     // traceparent reaches the events
				}
				out, err := pipeline.Run(ctx, ac, job)
				if err != nil {
					return protocol.Result{}, err
				}
				return protocol.Result{ID: job.ID, Output: out, Worker: os.Getpid()}, nil
			}),
		),
	})
}
