// Command logging shows where a worker's log records go and how calls time
// out: the host's log/slog logger (JSON on stdout) plugged in with
// shared.FromSlog, the worker's records arriving in it under a sub-logger
// named after the worker with their fields, LogLevel filtering them, and
// the call timeout default with per-message overrides. It checks every
// result it shows and exits with status 1 if one is not what it expects;
// the timeouts it provokes on purpose are marked "(expected)".
//
//	go build -o bin/logging-worker ./examples/logging/worker
//	go run ./examples/logging -worker bin/logging-worker
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/logging/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

func main() {
	workerPath := flag.String("worker", "bin/logging-worker", "path to the worker binary")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath); err != nil {
		fmt.Fprintln(os.Stderr, "logging:", err)
		os.Exit(1)
	}
	c.Exit()
}

func run(c *check.Checker, workerPath string) error {
	ctx := context.Background()

	// The application's own slog logger: JSON on stdout. The timestamp is
	// dropped only to keep this example's output short.
	out := &indented{wrote: make(chan struct{}, 1)}
	slogger := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))

	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(workerPath),
		Handshake: protocol.Handshake,
		Name:      "thumbnailer", // names the worker's sub-logger (default: the binary's name)
		Logger:    shared.FromSlog(slogger),
		// LogLevel filters the host's records and, unless the worker sets
		// its own, the worker's, in the worker: records below it never
		// cross the socket. The default is Warn.
		LogLevel: hclog.Info,
		// CallTimeout bounds every call whose message has no timeout of
		// its own. The default, zero, means no timeout.
		CallTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Printf("1. started worker %q (pid %d); host logger: log/slog JSON handler via shared.FromSlog, LogLevel info\n", w.Name(), w.PID())
	c.That(w.Name() == "thumbnailer", "1. worker name %q, want %q", w.Name(), "thumbnailer")

	res, err := host.Call(ctx, w, protocol.Resize, protocol.ResizeReq{JobID: "job-42", Width: 640})
	if err != nil {
		return err
	}
	fmt.Printf("2. resize -> %q; the worker logged debug, info and warn records and a stderr line:\n", res)
	c.That(res == "job-42 resized to 640px", "2. resize -> %q, want %q", res, "job-42 resized to 640px")
	// Records travel on a stream of their own, so they may arrive just
	// after the reply.
	if !out.waitFor(10*time.Second, "resized", "image has no colour profile", "libfake") {
		c.That(false, "2. not every record arrived within 10s, want the info, warn and stderr records")
	}
	recs := out.flush()
	fmt.Println("   (the debug record was dropped in the worker: below LogLevel info)")
	checkRecords(c, recs)

	t := time.Now()
	_, err = host.Call(ctx, w, protocol.Sleep, 1000)
	fmt.Printf("3. (expected) sleep 1 s with CallTimeout 200ms: failed after %v: %v\n   errors.Is context.DeadlineExceeded: %v\n",
		since(t), err, errors.Is(err, context.DeadlineExceeded))
	c.That(errors.Is(err, context.DeadlineExceeded), "3. a 1 s sleep with CallTimeout 200ms -> %v, want context.DeadlineExceeded", err)

	t = time.Now()
	res, err = host.Call(ctx, w, protocol.SleepPatiently, 500)
	fmt.Printf("4. the same message WithTimeout(2s), 500 ms of work: %q %v after %v\n", res, err, since(t))
	c.That(err == nil && res == "slept 500 ms", "4. sleep 500 ms WithTimeout(2s) -> %q, %v, want %q", res, err, "slept 500 ms")

	t = time.Now()
	res, err = host.Call(ctx, w, protocol.SleepUnbounded, 300)
	fmt.Printf("5. WithTimeout(0), no timeout at all, 300 ms of work: %q %v after %v\n", res, err, since(t))
	c.That(err == nil && res == "slept 300 ms", "5. sleep 300 ms WithTimeout(0) -> %q, %v, want %q", res, err, "slept 300 ms")

	// The earliest deadline wins: a caller's context can always cut a
	// call shorter than the message's timeout.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	t = time.Now()
	_, err = host.Call(cctx, w, protocol.SleepPatiently, 500)
	cancel()
	fmt.Printf("6. (expected) WithTimeout(2s) but a 50 ms context: failed after %v: %v\n", since(t), err)
	c.That(errors.Is(err, context.DeadlineExceeded), "6. sleep 500 ms with a 50 ms context -> %v, want context.DeadlineExceeded", err)

	err = w.Close()
	fmt.Println("7. close:", err)
	c.NoError("7. Close", err)
	out.flush() // anything the library logged while closing
	return nil
}

// checkRecords checks the worker's records from step 2: each with its
// level, sub-logger and fields, and the debug record dropped.
func checkRecords(c *check.Checker, lines []string) {
	byMsg := map[string]map[string]any{}
	for _, l := range lines {
		var r map[string]any
		if json.Unmarshal([]byte(l), &r) == nil {
			msg, _ := r["msg"].(string)
			byMsg[msg] = r
		}
	}
	want := []struct {
		msg    string
		fields map[string]any
	}{
		{"libfake: deprecated option ignored", map[string]any{"level": "INFO", "logger": "thumbnailer", "stream": "stderr"}},
		{"resized", map[string]any{"level": "INFO", "logger": "thumbnailer.resize", "job_id": "job-42", "width": 640.0, "took_ms": 12.0}},
		{"image has no colour profile; assuming sRGB", map[string]any{"level": "WARN", "logger": "thumbnailer.resize", "job_id": "job-42"}},
	}
	for _, w := range want {
		r, ok := byMsg[w.msg]
		if !c.That(ok, "2. no record %q among %q", w.msg, lines) {
			continue
		}
		for k, v := range w.fields {
			c.That(r[k] == v, "2. record %q has %s=%v, want %v", w.msg, k, r[k], v)
		}
	}
	_, debug := byMsg["decoding image"]
	c.That(!debug, "2. the debug record reached the host, want it dropped in the worker (LogLevel info)")
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }

// indented holds the log output and prints it indented under the
// example's numbered lines, so the two never interleave.
type indented struct {
	wrote chan struct{} // signalled after each Write

	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *indented) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case o.wrote <- struct{}{}:
	default:
	}
	return o.buf.Write(p)
}

// waitFor waits until every one of texts was written, and reports whether
// they were before timeout.
func (o *indented) waitFor(timeout time.Duration, texts ...string) bool {
	deadline := time.After(timeout)
	for {
		o.mu.Lock()
		done := true
		for _, t := range texts {
			done = done && bytes.Contains(o.buf.Bytes(), []byte(t))
		}
		o.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-o.wrote:
		case <-deadline:
			return false
		}
	}
}

// flush prints what was written so far, and returns it, a line each.
func (o *indented) flush() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var lines []string
	for _, line := range bytes.SplitAfter(o.buf.Bytes(), []byte("\n")) {
		if len(line) > 0 {
			fmt.Printf("   %s", line)
			lines = append(lines, string(bytes.TrimSpace(line)))
		}
	}
	o.buf.Reset()
	return lines
}
