package peer

import "time"

// Every wait of a Conn on the other process that is not a Config field,
// and every limit on what it keeps, is named here.
const (
	// defaultNameTimeout bounds the wait for the name of a stream the peer
	// opened (Config.NameTimeout). A peer writes it as it opens the stream.
	defaultNameTimeout = 10 * time.Second

	// deadlineSlack is how far ahead of a call's own deadline a "deadline
	// passed" cancel may arrive and still be left to the handler's
	// deadline timer.
	deadlineSlack = 50 * time.Millisecond

	// warnEvery is the least time between two warnings about the same kind
	// of flood from the peer (replies for unknown ids, wrong kinds).
	warnEvery = time.Second
)

// maxIdleHandlers bounds the handler goroutines kept waiting for work.
const maxIdleHandlers = 64

// maxAbandoned is how many ids of calls that gave up a connection
// remembers, so that their late replies are logged at Debug, not as
// unknown.
const maxAbandoned = 4096
