// Package bench measures isolated-workers side by side with its peers:
// hashicorp/go-plugin over net/rpc and over gRPC, and a raw Unix-socket
// floor. It is its own module, so go-plugin and gRPC never enter the
// library's go.mod.
//
// Every peer is a real worker binary (./workers/...), built into a temporary
// directory by the harness, serving the same three calls: ping (a 32-byte
// []byte), ping-struct (a one-string struct through the peer's serializer)
// and echo (a []byte of any size, here 1 MiB).
//
// # Running
//
// One table, every workload, every peer, one process (about 70 s):
//
//	go run ./cmd/sidebyside
//	go run ./cmd/sidebyside -peers iw,netrpc -workloads latency,concurrency -cpuprofile-iw /tmp/iw.prof
//
// The same workloads as go test benchmarks, with p50/p99 as metrics:
//
//	go test -run '^$' -bench . -benchtime 20000x
//	go test -run '^$' -bench 'Concurrent100/iw' -benchtime 3s
//
// go test without -bench runs a quick smoke test: each peer starts, answers
// and exits, and a tiny side-by-side run produces a full table.
//
// The table's header says how much CPU other processes and the hypervisor
// took during the run: on a shared 2-core machine, figures from a run that
// was not alone are disturbed. go-plugin's net/rpc workers exit before they
// answer go-plugin's Quit call, so its yamux may log "Failed to write
// header: ... broken pipe" on stderr; that is go-plugin's, and harmless.
//
// # Workloads
//
//   - start-up: spawn to first reply, median of 15 launches (each closed).
//   - latency: sequential 32-byte pings after a warm-up; p50 and p99. The
//     raw floor runs lock-step: write, then read on the same goroutine.
//   - concurrency: 100 goroutines ping back to back for 3 s; msg/s. The raw
//     floor pipelines on a second connection with a reader goroutine.
//   - latency-struct: sequential one-string struct pings through each
//     peer's own serializer (iw: JSON, net/rpc: gob, gRPC: protobuf).
//   - echo: 1 MiB echoes; MB/s counts bytes sent plus received.
//   - echo-first: the first 1 MiB echo on a fresh worker (after one ping),
//     median of 5 launches: what a short-lived worker sees before buffers
//     and heap are warm.
//   - rss: VmRSS of a worker after start-up, 10 pings and 1 s idle.
package bench
