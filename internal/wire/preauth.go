package wire

import "github.com/hashicorp/yamux"

// PreAuthAcceptBacklog is the worker's yamux accept backlog: how many
// streams the peer may open that the worker has not accepted yet. A host
// opens five streams in all; a stream beyond the backlog is reset by yamux
// and its data discarded, so a peer cannot make the worker buffer
// for streams it never accepts more than this many initial windows
// (256 KiB each).
const PreAuthAcceptBacklog = 8

// PreAuthWindow is the largest receive window a stream of a session that
// has not passed the hello grants: yamux's initial window, the smallest it
// allows. Reading the hello would otherwise grant the full window at once,
// letting an unauthenticated peer park that much data in the worker.
const PreAuthWindow = 256 << 10

// WorkerYamuxConfig is the worker's session configuration while the
// session has not passed the hello: YamuxConfig with a small accept backlog
// and the smallest stream window. Authenticated raises the window once the
// hello has passed.
func WorkerYamuxConfig() *yamux.Config {
	c := YamuxConfig()
	c.AcceptBacklog = PreAuthAcceptBacklog
	c.MaxStreamWindowSize = PreAuthWindow
	return c
}

// Authenticated gives a session made with cfg (from WorkerYamuxConfig)
// the full stream window of YamuxConfig. yamux reads the window size from
// the session's config each time a reader of a stream grants more window,
// and only then (never from its own goroutines), so this is safe if it
// happens before any goroutine other than the caller reads from the
// session's streams: call it on the goroutine that ran the hello, after
// its reads and before starting the stream readers.
func Authenticated(cfg *yamux.Config) {
	cfg.MaxStreamWindowSize = YamuxConfig().MaxStreamWindowSize
}
