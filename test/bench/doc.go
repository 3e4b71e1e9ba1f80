// Package bench measures isolated-workers side by side with its peers:
// hashicorp/go-plugin over net/rpc and over gRPC, and two raw Unix-socket
// floors: rawmux (a yamux session with isolated-workers' settings:
// lock-step on a stream, pipelined on another stream for many lanes: what
// yamux alone costs) and raw (lock-step on one connection; pipelined on a
// second connection for many lanes). It is
// its own module, so go-plugin and gRPC never enter the library's go.mod.
//
// Every peer is a real worker binary (./workers/...), built into a temporary
// directory by the harness, serving the same three calls: ping (a 32-byte
// []byte), ping-struct (a one-string struct through the peer's serializer)
// and echo (a []byte of any size).
//
// # Running
//
// One table, every workload, every peer, one process; every figure is the
// median of 5 runs with the spread (min-max); about 4 minutes on 2 cores
// (-quick: 3 runs, fewer calls, about a minute):
//
//	go run ./cmd/sidebyside
//	go run ./cmd/sidebyside -quick
//	go run ./cmd/sidebyside -runs 9 -peers iw,rawmux -workloads latency,lanes
//
// It writes results/latest.json (every run's value) and results/latest.md
// (the tables, ready for the README). GOMAXPROCS in the environment applies
// to this process and every worker; the header says which was used.
//
// Where the time goes: cmd/handoffs traces both processes (runtime/trace)
// and counts a round trip's goroutine wake-ups by site; PROFILE.md has the
// findings and the ranked optimisation plan.
//
//	go run ./cmd/handoffs -n 3000 -echoes 20 -first 3
//
// The same workloads as go test benchmarks, with p50/p99 as metrics:
//
//	go test -run '^$' -bench . -benchtime 20000x
//	go test -run '^$' -bench 'Concurrent100/iw' -benchtime 3s
//
// go test without -bench runs a quick smoke test: each peer starts, answers
// and exits, and a tiny side-by-side run (2 runs) produces a full table
// whose every cell is checked to be filled and sane (no time is asserted).
//
// The table's header says how much CPU other processes and the hypervisor
// took during the run: on a shared 2-core machine, figures from a run that
// was not alone are disturbed. go-plugin's net/rpc workers exit before they
// answer go-plugin's Quit call, so its yamux may log "Failed to write
// header: ... broken pipe" on stderr; that is go-plugin's, and harmless.
//
// # Workloads (each run, each peer)
//
//   - startup: spawn to first reply, median of 3 launches (each closed).
//   - latency: sequential round trips of 32 B (ping), 1 KiB, 64 KiB and
//     1 MiB (echo) after a warm-up; p50 and p99 of each. The 1 MiB echoes
//     also give the bandwidth row: bytes sent per second, ONE way.
//   - lanes: 1, 10, 100 and 1,000 goroutines ping (32 B) back to back;
//     msg/s.
//   - latency-struct: sequential one-string struct pings through each
//     peer's own serializer (iw: JSON, net/rpc: gob, gRPC: protobuf).
//   - echo-first: the first 1 MiB echo on a fresh worker (after one ping),
//     and the worker's minor page faults during it.
//   - step: isolated-workers only, p50 and p99 of round trips of 65,400,
//     65,450, 65,460, 65,536 and 70,000 bytes: whether latency steps where
//     payload plus envelope crosses 64 KiB, or at the bulk threshold.
//   - rss: VmRSS of a worker after start-up and 10 pings, left idle (at
//     least 1 s) while the peer's other workloads run.
//   - pool: isolated-workers only, in a table of its own (go-plugin has no
//     pools, so its column says so): in a host.Pool of 2, the time from a
//     SIGKILL of a worker to a worker serving in its place (the
//     replacement's start, or with one warm spare, the spare's promotion),
//     p50 and p99 of 30 kills (-quick: 15); and a pool of 100 idle workers:
//     the time NewPool takes to start them all in parallel, and their total
//     RSS.
package bench
