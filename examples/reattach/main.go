// Command reattach shows a worker that outlives its host: one host process
// starts a detached, keep-alive worker, saves its ReattachConfig and exits;
// a second host process attaches to it, receives the records the worker
// logged while it was alone, and closes it.
//
//	go build -o bin/reattach-worker ./examples/reattach/worker
//	go run ./examples/reattach -worker bin/reattach-worker
//
// Run without -launch or -attach, it plays both parts: it re-executes
// itself with -launch FILE as the first host, waits for that process to
// exit, then attaches as the second. Each part also runs on its own:
//
//	reattach -worker bin/reattach-worker -launch /tmp/rc.json
//	reattach -attach /tmp/rc.json
//
// It checks every result it shows and exits with status 1 if one is not
// what it expects.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/reattach/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
)

func main() {
	workerPath := flag.String("worker", "bin/reattach-worker", "path to the worker binary")
	launch := flag.String("launch", "", "start a detached worker, write its reattach config to `FILE`, and exit")
	attach := flag.String("attach", "", "attach to the worker described by `FILE`, call it, and close it")
	flag.Parse()
	c := check.New()
	var err error
	switch {
	case *launch != "":
		c.Quiet() // the first host's output is part of the whole run's
		err = launchPhase(c, *workerPath, *launch)
	case *attach != "":
		err = attachPhase(c, *attach)
	default:
		err = both(c, *workerPath)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reattach:", err)
		os.Exit(1)
	}
	c.Exit()
}

// waitBound bounds each wait for the worker; it is only reached when
// something is broken.
const waitBound = 10 * time.Second

// both runs the first host as a child process (this same binary with
// -launch), so that it really exits, then attaches from this process.
func both(c *check.Checker, workerPath string) error {
	dir, err := os.MkdirTemp("", "reattach-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "worker.json")

	self, err := os.Executable()
	if err != nil {
		return err
	}
	first := exec.Command(self, "-launch", file, "-worker", workerPath)
	first.Stdout, first.Stderr = os.Stdout, os.Stderr
	if err := first.Run(); err != nil {
		stopLeftWorker(file)
		return fmt.Errorf("first host: %w", err)
	}
	rc, err := host.ReadReattachConfig(file)
	if err != nil {
		return err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	fmt.Printf("4. first host (pid %d) has exited; worker pid %d alive: %v; %s is mode %v\n",
		first.Process.Pid, rc.PID, alive(rc.PID), filepath.Base(file), fi.Mode().Perm())
	c.That(alive(rc.PID), "4. the detached worker %d died with its first host", rc.PID)
	c.That(fi.Mode().Perm() == 0o600, "4. %s is mode %v, want -rw------- (it holds the auth token)", filepath.Base(file), fi.Mode().Perm())

	// The worker goes on with its batch, logging, while no host is there.
	// This pause is only to let it get on with it: what follows checks the
	// records, not how far the batch got.
	time.Sleep(300 * time.Millisecond)
	return attachPhase(c, file)
}

// stopLeftWorker attaches to and closes the worker a failed first host may
// have left running, so that it does not wait out its HostConnectTimeout.
func stopLeftWorker(file string) {
	rc, err := host.ReadReattachConfig(file)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if w, err := host.Attach(ctx, rc, host.Config{Handshake: protocol.Handshake}); err == nil {
		w.Close()
	}
}

// launchPhase is the first host: it starts the worker detached, gives it
// work that outlasts this process, saves the reattach config and exits
// without closing the worker.
func launchPhase(c *check.Checker, workerPath, file string) error {
	ctx := context.Background()
	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(workerPath),
		Handshake: protocol.Handshake,
		// Detached: the worker gets its own session and stdio not tied to
		// this process, so it survives our exit (and a Ctrl-C sent to our
		// process group).
		Detached: true,
		// The worker filters its records at its host's level, and keeps
		// this one after we exit: Info, so the batch's progress is kept
		// for the next host.
		LogLevel: hclog.Info,
	})
	if err != nil {
		return err
	}
	fmt.Printf("1. first host (pid %d) started detached worker pid %d\n", os.Getpid(), w.PID())
	p, err := host.Call(ctx, w, protocol.StartBatch, protocol.BatchReq{Items: 5, EveryMillis: 40})
	if err != nil {
		w.Close()
		return err
	}
	fmt.Printf("2. started a batch of %d items in the worker; done so far: %d\n", p.Of, p.Done)
	c.That(p.Of == 5 && p.PID == w.PID(), "2. batch of %d items in pid %d, want 5 items in pid %d", p.Of, p.PID, w.PID())

	// The config holds the auth token, a secret: WriteFile makes it 0600.
	rc := w.ReattachConfig()
	if err := rc.WriteFile(file); err != nil {
		w.Close()
		return err
	}
	rc.AuthToken = "<redacted>"
	fmt.Printf("3. wrote %+v to %s; exiting without Close\n", rc, filepath.Base(file))
	// No Close, no Disconnect: the host simply goes away, as a crashed or
	// restarted host would. The keep-alive worker waits for the next one.
	return nil
}

// attachPhase is the second host: a new process with nothing but the file.
func attachPhase(c *check.Checker, file string) error {
	ctx := context.Background()
	rc, err := host.ReadReattachConfig(file)
	if err != nil {
		return err
	}
	// The worker's records reach this host's logger as a sub-logger named
	// after the worker; collect them to print them below.
	records := &lines{wrote: make(chan struct{}, 1)}
	logger := hclog.New(&hclog.LoggerOptions{Name: "host2", Level: hclog.Info, Output: records})
	w, err := host.Attach(ctx, rc, host.Config{Handshake: protocol.Handshake, Logger: logger, LogLevel: hclog.Info})
	if err != nil {
		return err
	}
	defer w.Close()
	p, err := host.Call(ctx, w, protocol.Status, struct{}{})
	if err != nil {
		return err
	}
	fmt.Printf("5. second host (pid %d) attached to worker pid %d: batch %d/%d done while no host was connected\n",
		os.Getpid(), p.PID, p.Done, p.Of)
	c.That(p.PID == rc.PID && p.Of == 5 && p.Done <= p.Of, "5. status: pid %d, %d/%d done, want pid %d and a batch of 5", p.PID, p.Done, p.Of, rc.PID)

	// Records arrive on their own stream, shortly after the attach. The
	// worker logged that it was waiting for a host once the first one was
	// gone, so that record is ours. Which of the batch's records are ours
	// depends on how fast the first host went away: those logged while it
	// was still connected went to it. If the batch was still running when
	// we attached, its end is certainly ours.
	wait := "waiting for a new host"
	if p.Done < p.Of {
		wait = "batch done"
	}
	recs, ok := records.waitFor(waitBound, "waiting for a new host", wait)
	fmt.Printf("6. the worker's records logged while it was alone, delivered to this host:\n")
	for _, r := range recs {
		fmt.Println("   " + r)
	}
	c.That(ok, "6. no %q record within %v", wait, waitBound)
	checkRecords(c, recs, p.Done < p.Of)

	err = w.Close()
	fmt.Println("7. close:", err)
	c.NoError("7. Close", err)
	// The worker is not our child, so Close cannot wait for its exit: it
	// returns once the worker has closed the connection, as its last act,
	// and we watch the pid go.
	for t := time.Now(); alive(rc.PID) && time.Since(t) < waitBound; {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("8. worker pid %d has exited: %v\n", rc.PID, !alive(rc.PID))
	c.That(!alive(rc.PID), "8. worker pid %d still runs %v after Close", rc.PID, waitBound)
	w, err = host.Attach(ctx, rc, host.Config{Handshake: protocol.Handshake})
	fmt.Printf("9. (expected) attaching again with the same file: %v (errors.Is ErrStaleReattach: %v)\n",
		err, errors.Is(err, host.ErrStaleReattach))
	c.That(errors.Is(err, host.ErrStaleReattach), "9. Attach with the used file -> %v, want ErrStaleReattach", err)
	if err == nil {
		w.Close()
	}
	return nil
}

// itemRE matches the record of one processed item.
var itemRE = regexp.MustCompile(`processed item: item=(\d+) of=5$`)

// checkRecords checks the records the worker logged while alone: that it
// waited for a host, and a run of the batch's records (items 1 to 5, then
// the end of the batch), each once and in order, with the end when the batch
// was still running at the attach (toEnd).
func checkRecords(c *check.Checker, recs []string, toEnd bool) {
	var got []string
	waited := false
	for _, r := range recs {
		switch {
		case strings.Contains(r, "host disconnected; waiting for a new host"):
			waited = true
		case strings.HasSuffix(r, "batch done"):
			got = append(got, "done")
		default:
			if m := itemRE.FindStringSubmatch(r); m != nil {
				got = append(got, m[1])
			}
		}
	}
	c.That(waited, "6. no record that the worker waited for a new host among %q", recs)
	all := []string{"1", "2", "3", "4", "5", "done"}
	run := len(got) == 0
	for i := range all {
		if len(got) > 0 && slices.Equal(got, all[i:min(i+len(got), len(all))]) {
			run = true
		}
	}
	ends := len(got) > 0 && got[len(got)-1] == "done"
	c.That(run && (ends || !toEnd), "6. the batch's records: %v, want a run of %v, each once and in order%s", got, all,
		map[bool]string{true: ", up to the end", false: ""}[toEnd])
}

// lines is an io.Writer that keeps the lines a logger writes, minus their
// timestamps.
type lines struct {
	wrote chan struct{} // signalled after each Write

	mu  sync.Mutex
	all []string
}

var _ io.Writer = (*lines)(nil)

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if _, rest, ok := strings.Cut(s, " "); ok { // drop hclog's timestamp
			s = rest
		}
		l.all = append(l.all, s)
	}
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitFor returns the lines once each of texts is in one, and true; or
// the lines so far and false after timeout.
func (l *lines) waitFor(timeout time.Duration, texts ...string) ([]string, bool) {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		all := append([]string(nil), l.all...)
		l.mu.Unlock()
		found := 0
		for _, s := range texts {
			if slices.ContainsFunc(all, func(line string) bool { return strings.Contains(line, s) }) {
				found++
			}
		}
		if found == len(texts) {
			return all, true
		}
		select {
		case <-l.wrote:
		case <-deadline:
			return all, false
		}
	}
}
