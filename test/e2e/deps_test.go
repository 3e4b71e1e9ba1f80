package e2e

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// heavyForWorkers are the packages a worker binary must not link: the status
// hub, its WebSocket endpoint and its page need them, and those live on the
// host side (host/statushub).
var heavyForWorkers = []string{"net/http", "html/template", "github.com/coder/websocket"}

// TestWorkerBinaryLinksNoHTTP checks with `go list -deps` that a worker
// binary, and the packages every worker imports, link none of
// heavyForWorkers. A failure names the import chain that pulls one in.
func TestWorkerBinaryLinksNoHTTP(t *testing.T) {
	const mod = "github.com/isolated-workers/isolated-workers-go/"
	for _, pkg := range []string{
		"examples/basic-ping/worker",
		"test/testworker",
		"plugin",
		"shared",
		"shared/status",
		"shared/action",
	} {
		t.Run(pkg, func(t *testing.T) {
			imports := goListImports(t, mod+pkg)
			for _, heavy := range heavyForWorkers {
				if chain := importChain(imports, mod+pkg, heavy); chain != nil {
					t.Errorf("%s links %s via %s; the hub, WebSocket endpoint and page belong in host/statushub",
						pkg, heavy, strings.Join(chain, " -> "))
				}
			}
		})
	}
}

// natsModules are the job queue's engine: only programs that import package
// queue link them.
var natsModules = []string{"github.com/nats-io/nats-server/v2/server", "github.com/nats-io/nats.go"}

// TestOnlyQueueUsersLinkNATS checks with `go list -deps` that neither a
// worker binary nor the host, plugin, shared or status-hub packages link the
// NATS server or client; they belong to package queue, which sits above
// host. A failure names the import chain that pulls one in.
func TestOnlyQueueUsersLinkNATS(t *testing.T) {
	const mod = "github.com/isolated-workers/isolated-workers-go/"
	for _, pkg := range []string{
		"examples/basic-ping/worker",
		"test/testworker",
		"plugin",
		"host",
		"host/statushub",
		"shared",
		"shared/status",
		"shared/action",
		"shared/retry",
		"shared/faults",
	} {
		t.Run(pkg, func(t *testing.T) {
			imports := goListImports(t, mod+pkg)
			for _, heavy := range natsModules {
				if chain := importChain(imports, mod+pkg, heavy); chain != nil {
					t.Errorf("%s links %s via %s; only programs that run a job queue (package queue) may",
						pkg, heavy, strings.Join(chain, " -> "))
				}
			}
		})
	}
	// And the check can see it: package queue does link both.
	imports := goListImports(t, mod+"queue")
	for _, heavy := range natsModules {
		if importChain(imports, mod+"queue", heavy) == nil {
			t.Errorf("queue does not link %s; this test would not notice a leak", heavy)
		}
	}
}

// goListImports returns, for pkg and every package it depends on (non-test
// code, this platform), the packages each one imports directly.
func goListImports(t *testing.T, pkg string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.Bytes())
	}
	imports := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		imports[fields[0]] = fields[1:]
	}
	if _, ok := imports[pkg]; !ok {
		t.Fatalf("go list -deps %s: the package itself is not in its output:\n%s", pkg, out)
	}
	return imports
}

// importChain returns the shortest import path from one package to another,
// both ends included, or nil when from does not depend on to.
func importChain(imports map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, q := range imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}
