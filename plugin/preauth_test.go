package plugin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/isolated-workers/isolated-workers-go/internal/wire"
)

// A peer that opens a second stream before the hello has its connection
// closed at once, not after the hello timeout.
func TestStreamBeforeHelloClosesConnection(t *testing.T) {
	w := servePeer(t, Config{})
	ymx := w.session(t)
	if _, err := openNamed(ymx, wire.StreamControl); err != nil {
		t.Fatal(err)
	}
	if _, err := openNamed(ymx, wire.StreamCalls); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ymx.CloseChan():
	case <-time.After(helloTimeout / 2):
		t.Fatalf("the worker kept a connection that opened a second stream before its hello for %v", helloTimeout/2)
	}
	hw := w.attach(t)
	callDouble(t, hw)
}

// refusalCount sums the connections the worker's refusal warnings stand
// for, and returns the warnings.
func refusalCount(recs []map[string]any) (n int, warnings []map[string]any) {
	for _, rec := range recs {
		msg, _ := rec["@message"].(string)
		if rec["@level"] != "warn" || !strings.HasPrefix(msg, "refused") {
			continue
		}
		warnings = append(warnings, rec)
		if c, ok := rec["refused"].(float64); ok {
			n += int(c)
		} else {
			n++
		}
	}
	return n, warnings
}

// maxWarnings is the most refusal warnings the worker may log over elapsed:
// one at once, then one per refusalLogInterval, and one when it stops.
func maxWarnings(elapsed time.Duration) int {
	return 2 + int(elapsed/refusalLogInterval)
}

// Unauthenticated connections beyond maxUnauthenticated are closed at
// once; a connected host keeps calling; the refusals are logged as a few
// warnings with a count, naming the peer's real pid.
func TestUnauthenticatedConnectionsAreCapped(t *testing.T) {
	w := servePeer(t, Config{})
	hw := w.attach(t)
	const dials = 3 * maxUnauthenticated
	began := time.Now()
	eofs := make(chan error, dials)
	for range dials {
		c := w.dial(t)
		go func() {
			// Bounded below the hello timeout: a connection the worker
			// holds is not refused.
			c.SetReadDeadline(time.Now().Add(helloTimeout / 2))
			_, err := c.Read(make([]byte, 1))
			eofs <- err
		}()
	}
	refused := 0
	for range dials - maxUnauthenticated {
		if err := <-eofs; errors.Is(err, io.EOF) {
			refused++
		}
	}
	if refused != dials-maxUnauthenticated {
		t.Fatalf("%d of %d idle unauthenticated connections were closed at once, want %d (all beyond %d)",
			refused, dials, dials-maxUnauthenticated, maxUnauthenticated)
	}
	callDouble(t, hw)
	w.stop(t)
	elapsed := time.Since(began)
	n, warnings := refusalCount(w.logs.records())
	if n < dials-maxUnauthenticated {
		t.Errorf("refusal warnings count %d connections, want at least %d: %v", n, dials-maxUnauthenticated, warnings)
	}
	if len(warnings) > maxWarnings(elapsed) {
		t.Errorf("%d refusal warnings in %v, want at most %d (one per %v)", len(warnings), elapsed, maxWarnings(elapsed), refusalLogInterval)
	}
	wantPID := float64(os.Getpid())
	for _, rec := range warnings {
		if rec["peer_pid"] != wantPID {
			t.Errorf("refusal warning %v: peer_pid = %v, want this process's %v (from SO_PEERCRED)", rec, rec["peer_pid"], wantPID)
		}
	}
}

// Every peer with a wrong token reads its refusal (nothing is cut off by
// the worker closing first), the refusal names the peer's real pid, not
// the one its hello claims, and the worker logs a few counted warnings,
// not one per refusal.
func TestRefusalsAreRateLimited(t *testing.T) {
	w := servePeer(t, Config{})
	const peers = 40
	began := time.Now()
	for i := range peers {
		ymx := w.session(t)
		wh, _, err := w.hello(t, ymx, "wrong")
		want := fmt.Sprintf("pid %d", os.Getpid())
		if err != nil || !strings.Contains(wh.Error, "authentication failed") || !strings.Contains(wh.Error, want) {
			t.Fatalf("peer %d: hello with a wrong token = %+v, %v; want a refusal naming %s", i, wh, err, want)
		}
		ymx.Close()
	}
	w.stop(t)
	elapsed := time.Since(began)
	n, warnings := refusalCount(w.logs.records())
	if n != peers {
		t.Errorf("refusal warnings count %d connections, want %d: %v", n, peers, warnings)
	}
	if len(warnings) > maxWarnings(elapsed) {
		t.Errorf("%d refusal warnings in %v, want at most %d (one per %v)", len(warnings), elapsed, maxWarnings(elapsed), refusalLogInterval)
	}
}
