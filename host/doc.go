// Package host launches worker processes and calls them.
//
// # Starting and calling
//
//	w, err := host.Start(ctx, host.Config{Cmd: exec.Command("./worker"), Handshake: hs})
//	if err != nil { ... }
//	defer w.Close()
//	res, err := host.Call(ctx, w, Compute, ComputeReq{Data: 2})
//
// Start spawns the executable, waits for its ready line on a private pipe
// (never stdout), dials its Unix socket with the Connection retry policy and
// exchanges a hello. StartupTimeout bounds all of it.
//
// # Errors
//
// Errors name the worker and what failed, and wrap matchable values:
// ErrWorkerClosed, ErrShuttingDown, ErrDisconnected, ErrConnectionLost,
// ErrWorkerTerminated and ErrStaleReattach for errors.Is; *ExitError (exit
// code or signal, stderr tail), *RefusedError, *shared.RemoteError (a
// handler's error: message, code, type, fault class) and
// *shared.MiddlewareError for errors.As. A handler's deadline or
// cancellation matches context.DeadlineExceeded or context.Canceled.
//
// # Lifecycle
//
// Close fails pending calls, asks the worker to stop, waits GracePeriod and
// then kills its process group. Shutdown first waits for pending calls.
// Disconnect drops the connection but not the process; Reconnect dials
// again (a worker with plugin.KeepAlive waits for it). A Detached worker
// outlives the host; another host process takes it over with Attach and a
// ReattachConfig.
//
// What keeps a host waiting: Start (until ready, StartupTimeout at most),
// Call (until its reply and the events its handler emitted were delivered,
// its context or deadline, or the connection or worker failing), Shutdown (until pending calls finish or its context
// ends), Close (GracePeriod at most, then a kill) and Reconnect (the
// Connection policy). Nothing else blocks: a worker's logs, stderr and
// events are read on goroutines the Worker owns, and a slow OnEvent or
// Status consumer slows the events stream: the worker's Emit waits for it,
// and so do the calls whose handlers emitted the events waiting.
//
// # Concurrency
//
// A Worker is safe for concurrent use: any number of goroutines may Call at
// once; calls share one stream and their writes are coalesced. A call queues
// its request whole and waits only for its reply: a worker that is slow to
// read (stopped, starved of CPU) delays calls but fails none, and a call
// whose deadline passes while the queue (about 4 MiB) is full fails alone.
// A worker's death is seen by its exit or its socket closing, never by a
// write that waited. Close, Shutdown, Disconnect and Reconnect may be called
// from any goroutine. A Reconnect under way is a state of its own: Close
// cancels it and waits for it, and a second Reconnect waits for its
// outcome. Close is idempotent and returns only after every goroutine the
// Worker started has ended. After Close, Call returns ErrWorkerClosed. OnEvent runs on one
// goroutine per connection, in the order the worker emitted the events.
package host
