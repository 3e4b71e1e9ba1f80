package action_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/action"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/shared/retry"
	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// printEvents is a status.Publisher that prints each event on one line.
var printEvents = status.PublisherFunc(func(ev status.Event) {
	line := fmt.Sprintf("%s %s attempt=%d", ev.JobID, ev.Status, ev.Attempt)
	if ev.Error != "" {
		line += fmt.Sprintf(" error=%q class=%s", ev.Error, ev.ErrorClass)
	}
	fmt.Println(line)
})

func ExampleNewPipeline() {
	parse := action.New("parse", func(ctx context.Context, ac *action.JobInfo, s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, faults.New(faults.Permanent, err)
		}
		return n, nil
	})
	square := action.New("square", func(ctx context.Context, ac *action.JobInfo, n int) (int, error) {
		return n * n, nil
	})
	format := action.New("format", func(ctx context.Context, ac *action.JobInfo, n int) (string, error) {
		return fmt.Sprintf("result: %d", n), nil
	})
	p, err := action.NewPipeline[string, string]("squares", []action.Stage{parse, square, format})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := p.Run(context.Background(), &action.JobInfo{JobID: "job-1", Status: printEvents}, "12")
	fmt.Println(out, err)
	_, err = p.Run(context.Background(), &action.JobInfo{JobID: "job-2", Status: printEvents}, "twelve")
	fmt.Println(err)

	// Types are checked when the pipeline is built.
	_, err = action.NewPipeline[string, string]("broken", []action.Stage{parse, format, square})
	fmt.Println(err)
	// Output:
	// job-1 PROCESSING attempt=1
	// job-1 COMPLETED attempt=1
	// result: 144 <nil>
	// job-2 PROCESSING attempt=1
	// job-2 FAILED attempt=1 error="action \"parse\": strconv.Atoi: parsing \"twelve\": invalid syntax" class=permanent
	// action "parse": strconv.Atoi: parsing "twelve": invalid syntax
	// pipeline "broken": stage 2 ("square") takes int, but stage 1 ("format") returns string
}

func ExampleWrap() {
	calls := 0
	reserve := action.New("reserve", func(ctx context.Context, ac *action.JobInfo, sku string) (string, error) {
		calls++
		if calls < 3 {
			return "", faults.Transientf("inventory busy")
		}
		return "reservation-" + sku, nil
	})
	counters := &action.Counters{}
	// Error handling outside retry: one log line and one count for the
	// whole retried call. The first middleware is the outermost.
	reserve = action.Wrap(reserve,
		action.WithErrorHandling(action.ErrorHandlingConfig{Counters: counters}),
		action.WithRetry(retry.Policy{MaxAttempts: 5, DelayFunc: func(n int) time.Duration { return 0 }}),
	)
	p, _ := action.NewPipeline[string, string]("order", []action.Stage{reserve})
	out, err := p.Run(context.Background(), &action.JobInfo{JobID: "order-7", Status: printEvents}, "sku-1")
	fmt.Println(out, err, counters.Snapshot().Total())
	// Output:
	// order-7 PROCESSING attempt=1
	// order-7 RETRYING attempt=1 error="inventory busy" class=transient
	// order-7 RETRYING attempt=2 error="inventory busy" class=transient
	// order-7 COMPLETED attempt=1
	// reservation-sku-1 <nil> 0
}

func ExampleWithErrorHandling() {
	explode := action.New("explode", func(ctx context.Context, ac *action.JobInfo, n int) (int, error) {
		panic("unexpected state")
	})
	counters := &action.Counters{}
	safe := action.Wrap(explode, action.WithErrorHandling(action.ErrorHandlingConfig{
		Counters: counters,
		Cleanup: func(ctx context.Context, ac *action.JobInfo, err error) {
			fmt.Println("cleaning up after", ac.Action)
		},
	}))
	_, err := safe.Run(context.Background(), &action.JobInfo{JobID: "j"}, 1)
	var pe *action.PanicError
	fmt.Println(err, errors.As(err, &pe), faults.ClassOf(err), counters.Snapshot().Panics)
	// Output:
	// cleaning up after explode
	// panic: unexpected state true system 1
}

func ExampleCircuitBreaker() {
	b, _ := action.NewCircuitBreaker(action.BreakerConfig{
		Name:             "payments",
		FailureThreshold: 2,
		OpenTimeout:      time.Minute,
		OnStateChange: func(name string, from, to action.BreakerState) {
			fmt.Printf("%s: %v -> %v\n", name, from, to)
		},
	})
	charge := action.Wrap(action.New("charge", func(ctx context.Context, ac *action.JobInfo, cents int) (string, error) {
		return "", faults.Transientf("gateway timeout")
	}), action.WithCircuitBreaker(b))
	for range 3 {
		_, err := charge.Run(context.Background(), &action.JobInfo{}, 100)
		fmt.Println(errors.Is(err, action.ErrCircuitOpen), strings.Split(err.Error(), ";")[0])
	}
	// Output:
	// false gateway timeout
	// payments: closed -> open
	// false gateway timeout
	// true circuit breaker "payments" is open
}

func ExampleDeadLetter_Redrive() {
	dl, _ := action.NewDeadLetter(action.DeadLetterConfig{
		MaxEntries: 100,
		Retention:  24 * time.Hour,
		OnDeadLetter: func(e action.Entry) {
			fmt.Printf("dead letter %s: job %s failed in %s after %d attempts\n", e.ID, e.JobID, e.Action, e.Attempts)
		},
	})
	healthy := false
	send := action.Wrap(action.New("send", func(ctx context.Context, ac *action.JobInfo, to string) (string, error) {
		if !healthy {
			return "", faults.Systemf("smtp: too many connections")
		}
		return "sent to " + to, nil
	}), action.WithRetry(retry.Policy{MaxAttempts: 2, DelayFunc: func(int) time.Duration { return 0 }}))
	p, _ := action.NewPipeline[string, string]("notify", []action.Stage{send}, action.WithDeadLetter(dl))

	_, err := p.Run(context.Background(), &action.JobInfo{JobID: "mail-1"}, "ops@example.com")
	fmt.Println(err)

	healthy = true
	for _, e := range dl.List() {
		err := dl.Redrive(context.Background(), e.ID, func(ctx context.Context, e action.Entry) error {
			out, err := p.Run(ctx, &action.JobInfo{JobID: e.JobID}, e.Input.(string))
			fmt.Println(out)
			return err
		})
		fmt.Println("redrive:", err, "left:", dl.Len())
	}
	// Output:
	// dead letter dl-1: job mail-1 failed in send after 2 attempts
	// action "send": retry: gave up after 2 attempts: smtp: too many connections
	// sent to ops@example.com
	// redrive: <nil> left: 0
}

func ExampleDep() {
	type Mailer struct{ From string }
	send := action.New("send", func(ctx context.Context, ac *action.JobInfo, to string) (string, error) {
		m, ok := action.Dep[*Mailer](ac, "mailer")
		if !ok {
			return "", faults.Systemf("no mailer configured")
		}
		return m.From + " -> " + to, nil
	})
	ac := &action.JobInfo{Deps: map[string]any{"mailer": &Mailer{From: "ops@example.com"}}}
	out, err := send.Run(context.Background(), ac, "dev@example.com")
	fmt.Println(out, err)
	// Output: ops@example.com -> dev@example.com <nil>
}
