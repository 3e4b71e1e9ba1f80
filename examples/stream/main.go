// Command stream shows streaming calls: the worker generates a file of
// 200,000 lines and streams them to the host, which ranges over them with
// host.Stream, prints the worker's progress events as they come, and
// checks the line count and the file's checksum (the worker's Summary
// event, delivered before the range ends). Then it stops a second stream
// after a few lines (break), which cancels the worker's handler at once.
// It checks every result it shows and exits with status 1 if one is not
// what it expects.
//
//	go build -o bin/stream-worker ./examples/stream/worker
//	go run ./examples/stream -worker bin/stream-worker
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/isolated-workers/isolated-workers-go/examples/internal/check"
	"github.com/isolated-workers/isolated-workers-go/examples/stream/protocol"
	"github.com/isolated-workers/isolated-workers-go/host"
)

func main() {
	workerPath := flag.String("worker", "bin/stream-worker", "path to the worker binary")
	lines := flag.Int("lines", 200_000, "lines in the generated file")
	flag.Parse()
	c := check.New()
	if err := run(c, *workerPath, *lines); err != nil {
		fmt.Fprintln(os.Stderr, "stream:", err)
		os.Exit(1)
	}
	c.Exit()
}

func run(c *check.Checker, workerPath string, lines int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Events arrive on OnEvent while the range runs; the summary is there
	// before the range ends.
	var mu sync.Mutex
	var summary protocol.Summary
	progress := 0
	w, err := host.Start(ctx, host.Config{
		Cmd:       exec.Command(workerPath),
		Handshake: protocol.Handshake,
		OnEvent: func(ev host.ReceivedEvent) {
			if p, ok, _ := host.DecodeEvent(ev, protocol.ProgressEvent); ok {
				fmt.Printf("   progress: %d of %d lines (%d%%)\n", p.Sent, p.Total, p.Sent*100/p.Total)
				mu.Lock()
				progress = p.Sent
				mu.Unlock()
			}
			if s, ok, _ := host.DecodeEvent(ev, protocol.SummaryEvent); ok {
				mu.Lock()
				summary = s
				mu.Unlock()
			}
		},
	})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Printf("1. started worker (pid %d)\n", w.PID())

	fmt.Printf("2. streaming the %d lines of a file the worker generates\n", lines)
	began := time.Now()
	sum := sha256.New()
	got, bytes, outOfOrder := 0, 0, 0
	for line, err := range host.Stream(ctx, w, protocol.Lines, protocol.LinesReq{Lines: lines, ProgressEvery: lines / 5}) {
		if err != nil {
			return fmt.Errorf("stream lines: %w", err)
		}
		got++
		if line.N != got {
			outOfOrder++
		}
		sum.Write([]byte(line.Text))
		sum.Write([]byte{'\n'})
		bytes += len(line.Text) + 1
	}
	elapsed := time.Since(began)
	mu.Lock()
	s, p := summary, progress
	mu.Unlock()
	digest := hex.EncodeToString(sum.Sum(nil))
	fmt.Printf("   %d lines, %.1f MiB in %v (%.0f lines/s); SHA-256 %s...\n",
		got, float64(bytes)/(1<<20), elapsed.Round(time.Millisecond), float64(got)/elapsed.Seconds(), digest[:16])
	c.That(got == lines, "2. lines received %d, want %d", got, lines)
	c.That(outOfOrder == 0, "2. lines out of order: %d, want 0", outOfOrder)
	c.That(p == lines, "2. last progress event before the range ended: %d lines, want %d", p, lines)
	c.That(s.Lines == lines && s.SHA256 == digest, "2. worker's summary %d lines, SHA-256 %.16s..., want %d and %.16s... (what the host received)",
		s.Lines, s.SHA256, lines, digest)

	fmt.Println("3. a second stream, stopped after 10 lines with break")
	n := 0
	for _, err := range host.Stream(ctx, w, protocol.Lines, protocol.LinesReq{Lines: lines}) {
		if err != nil {
			return fmt.Errorf("stream lines: %w", err)
		}
		if n++; n == 10 {
			break
		}
	}
	sent, err := host.Call(ctx, w, protocol.Cancelled, "")
	c.NoError("3. Call(Cancelled)", err)
	fmt.Printf("   the worker's handler was cancelled at once, after sending %d of %d lines\n", sent, lines)
	c.That(sent >= 10 && sent < lines, "3. lines the cancelled handler sent: %d, want at least 10 and fewer than %d", sent, lines)
	return nil
}
