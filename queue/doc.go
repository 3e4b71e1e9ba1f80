// Package queue is a durable job queue on NATS JetStream. By default it
// embeds the NATS server in the process (no listening port: an in-process
// connection, streams on disk under DefaultStoreDir, nothing to install);
// set Config.URLs to run the same code against an external NATS cluster
// when one machine is not enough.
//
// Only programs that run a queue import this package: a worker binary, and
// a host that does not run one, never link the NATS server.
//
// # Model
//
//	producers                 JetStream (embedded, or a cluster)                 hosts
//	---------                 ----------------------------------                 -----
//	Enqueue(job) ──────────▶  stream IW_JOBS  (work queue, file storage)
//	  id = Nats-Msg-Id         iw.jobs.<type>       ◀── pull (durable consumer ──  Consume: pulls at most
//	  (duplicates rejected)    iw.sched.<type>.<id>      "workers", shared)        Capacity() jobs, runs
//	  Delay: a schedule ──▶    (fires into iw.jobs.<type>)                          Handler per job
//	                                                                               │ running: in progress
//	                                                                               │   every AckWait/2
//	                           ◀── ack ────────────────────────────────────────────┤ ok
//	                           ◀── nak + delay (retry.Policy, attempt = ───────────┤ transient
//	                               delivery count)                                  │
//	                           stream IW_DEAD  ◀── every attempt's error + job ─────┤ permanent, business,
//	                           iw.dead.<id>        then term the original           │ or last attempt
//	                           bucket iw-attempts  (attempt errors so far)          │
//	                           bucket iw-status ──▶ republished on iw.status.<id> ──▶ Feed ─▶ statushub.Hub
//	                                              (latest state per job)              (seeded from the bucket)
//
// Hosts pull; the engine never pushes more than a host asked for. Retries
// live on the engine: a failed job is not retried in the host's memory but
// handed back with a delay, so any host may run the next attempt, and a
// host that restarts loses nothing. A host that dies mid-job never
// acknowledges it; the engine re-delivers it after AckWait. Delivery is
// therefore at least once: a handler can run twice for one job (after a
// crash, a lost acknowledgement, a network partition), so handlers make
// their effects idempotent by Job.ID. Enqueue, in turn, is exactly once per
// ID within Config.DuplicateWindow.
//
// # Embedded or cluster
//
// The zero Config embeds a server storing in
// <os.UserCacheDir()>/isolated-workers/queue. Config.StoreDir moves it;
// Config.ConfigureServer adjusts the server (a client port so that other
// processes can connect, cluster routes). Config.URLs (with
// CredentialsFile, TLS and NATSOptions) connects to an existing cluster
// instead; set Replicas to 3 there. Streams and buckets are created or
// updated by Open, so every host opens the same queue by Name.
//
// # Concurrency
//
// A Queue is safe for concurrent use. Enqueue may be called from any
// goroutine. Consume and Feed block until their context is cancelled or
// the queue is closed; any number may run at once, on one process or on
// many. Consume runs each job's Handler on its own goroutine and returns
// after all of them have returned. Close cancels every Consume and Feed,
// waits for them, flushes status updates (bounded by CloseTimeout), closes
// the connection and shuts the embedded server down; every method after
// Close returns an error wrapping ErrClosed, and StatusPublisher.Publish
// drops (and counts) events.
package queue
