// Package plugin serves a worker: the binary a host launches.
//
// # Serving
//
//	func main() {
//		plugin.Serve(plugin.Config{
//			Handshake: hs,
//			Handlers: plugin.Handlers(
//				plugin.Handle(Compute, func(ctx context.Context, req ComputeReq) (ComputeRes, error) { ... }),
//			),
//		})
//	}
//
// Serve reads the handshake from the environment the host set, checks the
// magic cookie (a binary started by hand explains itself and exits 1), the
// serializer name and the protocol versions, listens on the host's socket
// (mode 0600) and reports readiness on the ready pipe, never on stdout, so
// the worker may print to stdout freely.
//
// # Handlers
//
// Each request runs its handler on a goroutine of its own. The handler's
// context carries the call's headers (shared.HeadersFrom), its deadline,
// its transaction id (TxID) and a logger whose records reach the host
// (Logger); it is cancelled when the host cancels the call or goes away. A
// returned error reaches the host as a *shared.RemoteError with the
// error's fault class (shared/faults); a panic is recovered into one, and
// the worker keeps serving. Emit and StatusPublisher send events to the
// host, tagged with the call's transaction id; the reply tells the host how
// many the handler emitted, and the host's Call returns after they reached
// its OnEvent.
//
// # Backpressure and drops
//
// Log records and events wait for the host in queues of LogBuffer each.
// While a host is connected nothing is dropped silently: a full queue makes
// Emit wait until its context ends (then it returns an error wrapping the
// context's) and a log call wait at most LogWait (then the record is
// dropped). While no host is connected a full queue drops its oldest
// record. Every drop is counted (Dropped) and the host is told with a
// shared.DroppedEvent, before the records queued after the drop.
//
// # Lifecycle
//
// A worker serves one host at a time; another host that connects meanwhile
// is refused with a clear error, as is one with a wrong auth token. When the
// host disconnects or dies, a worker with DisconnectBehavior ExitOnDisconnect (the
// default) exits, and one with KeepAlive waits for a new host, for at most
// HostConnectTimeout. Log records and events produced while no host is
// connected are kept (up to LogBuffer each, the newest) for the next host,
// which is told how many were dropped.
//
// # Untrusted peers
//
// Whoever connects to the socket gets nothing but the hello until it shows
// the auth token: a second stream before the hello closes the connection,
// no stream grants more than 256 KiB of window, at most 16 connections may
// be waiting for their hello (more are closed at once), and a refused peer
// is identified in the log by the pid and uid the kernel reports, not the
// ones it claims. Refusals are logged at most once a second, with a count.
// An authenticated host that opens a stream twice has the second one
// closed. Every timeout the worker applies to another process is named, with
// its reason, in timeouts.go.
//
// # Concurrency
//
// Handlers and middleware run concurrently and must be safe for that.
// ServeContext returns after every goroutine it started has ended.
package plugin
