package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/internal/wire"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// Limits of the hostile local client test: what it does and what the
// worker must hold out against.
const (
	floodConns    = 4         // connections opening streams without a hello
	floodStreams  = 1024      // streams each of them opens
	floodPerWrite = 256 << 10 // bytes written to each stream: yamux's initial window
	idleConns     = 500       // connections that never say anything
	// workerCap mirrors the worker's limit of unauthenticated connections
	// (plugin's maxUnauthenticated).
	workerCap = 16
	// maxWorkerRSS is a generous bound on the worker's peak resident set:
	// it idles at about 8 MiB; before the pre-authentication limits one
	// flooding connection grew it by 256 MiB.
	maxWorkerRSS = 64 << 20
	// hostileBound bounds every wait on the worker; it is below the
	// worker's 10 s hello timeout, so a connection the worker holds until
	// then is not mistaken for one it refused.
	hostileBound = 5 * time.Second
)

// peakRSS returns the peak resident set (VmHWM) of pid in bytes.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the worker's status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("VmHWM line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// flood opens streams on a new connection to sock and writes to each,
// without a hello, until the worker ends the session. It returns how many
// streams it opened.
func flood(sock string) (int, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ymx, err := yamux.Client(c, wire.YamuxConfig())
	if err != nil {
		return 0, err
	}
	defer ymx.Close()
	// The first stream names itself control and then says nothing, so the
	// worker waits for its hello; every other stream fills its window.
	junk := bytes.Repeat([]byte{'j'}, floodPerWrite)
	for i := range floodStreams {
		st, err := ymx.OpenStream()
		if err != nil {
			return i, nil
		}
		st.SetWriteDeadline(time.Now().Add(hostileBound))
		b := junk
		if i == 0 {
			b = []byte("control\n")
		}
		if _, err := st.Write(b); err != nil {
			return i + 1, nil
		}
	}
	return floodStreams, nil
}

// A local client without the token cannot make the worker grow: streams
// opened before a hello end the connection, unauthenticated connections
// beyond the cap are closed at once, the worker's peak memory stays
// bounded, and its host keeps calling.
func TestHostileLocalClient(t *testing.T) {
	w, _ := startArgs(t)
	ctx := ctxT(t)
	if _, err := host.Call(ctx, w, testproto.Ping, "before"); err != nil {
		t.Fatalf("Call(Ping) before the attack: %v", err)
	}
	sock := w.ReattachConfig().SocketPath

	var wg sync.WaitGroup
	opened := make([]int, floodConns)
	for i := range floodConns {
		wg.Go(func() {
			n, err := flood(sock)
			if err != nil {
				t.Errorf("flood connection %d: %v", i, err)
			}
			opened[i] = n
		})
	}
	wg.Wait()
	t.Logf("streams each flooding connection opened before the worker ended it: %v", opened)

	eofs := make(chan error, idleConns)
	for range idleConns {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("dial idle connection: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			c.SetReadDeadline(time.Now().Add(hostileBound))
			_, err := c.Read(make([]byte, 1))
			eofs <- err
		}()
	}
	// The refused ones end at once; the ones the worker holds only at
	// hostileBound, so the first error that is not EOF ends the count.
	refused := 0
	for refused < idleConns-workerCap {
		if err := <-eofs; !errors.Is(err, io.EOF) {
			break
		}
		refused++
	}
	if refused < idleConns-workerCap {
		t.Errorf("%d of %d idle unauthenticated connections were closed at once, want at least %d (all beyond %d)",
			refused, idleConns, idleConns-workerCap, workerCap)
	}
	if _, err := host.Call(ctx, w, testproto.Ping, "after"); err != nil {
		t.Fatalf("Call(Ping) after the attack: %v", err)
	}
	rss := peakRSS(t, w.PID())
	t.Logf("worker peak RSS after the attack: %.1f MiB", float64(rss)/(1<<20))
	limit := maxWorkerRSS
	if raceEnabled {
		// The race detector's shadow memory multiplies what the worker
		// touches several times over; the unlimited worker
		// grew past 865 MiB without it.
		limit *= 4
	}
	if rss > limit {
		t.Errorf("worker peak RSS = %.1f MiB, want at most %d MiB (race detector: %v)", float64(rss)/(1<<20), limit>>20, raceEnabled)
	}
}
