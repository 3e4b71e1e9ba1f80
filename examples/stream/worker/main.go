// Command worker is the stream example's worker plugin: it generates a
// large text file in a temporary directory and streams its lines to the
// host, with progress events. Its host starts it; run by hand it explains
// that and exits 1.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/isolated-workers/isolated-workers-go/examples/stream/protocol"
	"github.com/isolated-workers/isolated-workers-go/plugin"
)

func main() {
	cancelled := make(chan int, 1)
	plugin.Serve(plugin.Config{
		Handshake: protocol.Handshake,
		Handlers: plugin.Handlers(
			plugin.HandleStream(protocol.Lines, func(ctx context.Context, req protocol.LinesReq, send func(protocol.Line) error) error {
				sent, err := streamLines(ctx, req, send)
				if err != nil && ctx.Err() != nil {
					plugin.Logger(ctx).Info("stream cancelled by the host", "sent", sent)
					select {
					case cancelled <- sent:
					default:
					}
				}
				return err
			}),
			plugin.Handle(protocol.Cancelled, func(ctx context.Context, _ string) (int, error) {
				select {
				case n := <-cancelled:
					return n, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}),
		),
	})
}

// streamLines writes req.Lines lines to a file in a temporary directory,
// then reads it back line by line, sending each line to the host. It emits
// a Progress event every req.ProgressEvery lines and a Summary (the
// file's SHA-256) at the end.
func streamLines(ctx context.Context, req protocol.LinesReq, send func(protocol.Line) error) (int, error) {
	dir, err := os.MkdirTemp("", "stream-example-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "lines.txt")
	if err := generate(path, req.Lines); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sum := sha256.New()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		sum.Write(sc.Bytes())
		sum.Write([]byte{'\n'})
		// send blocks while the host is behind: the file is read no
		// faster than the host takes its lines.
		if err := send(protocol.Line{N: n, Text: sc.Text()}); err != nil {
			return n - 1, err
		}
		if req.ProgressEvery > 0 && (n%req.ProgressEvery == 0 || n == req.Lines) {
			if err := plugin.Emit(ctx, protocol.ProgressEvent, protocol.Progress{Sent: n, Total: req.Lines}); err != nil {
				return n, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("read %s: %w", path, err)
	}
	return n, plugin.Emit(ctx, protocol.SummaryEvent, protocol.Summary{Lines: n, SHA256: hex.EncodeToString(sum.Sum(nil))})
}

// generate writes n lines of text to path.
func generate(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, "%07d the quick brown fox jumps over the lazy dog %08x\n", i, uint32(i)*2654435761)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
