package shared

// KindItem is the envelope kind of one item of a stream (Stream), sent by
// the worker on the stream's own yamux stream. The number travels on the
// wire (handshake/PROTOCOL.md, "Streams of items").
const KindItem Kind = 6

// Stream defines a streaming call by name: the host sends one Req, the
// worker answers with any number of Items, in order, then ends the stream
// (with an error, or without). Define each stream once, in a package that
// host and worker both import; the worker serves it with
// plugin.HandleStream and the host ranges over host.Stream.
//
// An Item of type []byte travels as raw bytes, never through the
// serializer, as a []byte request or result does (see NewMessage).
type Stream[Req, Item any] struct{ name string }

// NewStream defines the stream called name whose request is a Req and whose
// items are Items. Its name shares the namespace of messages: a worker
// serves a name either as a message or as a stream.
func NewStream[Req, Item any](name string) Stream[Req, Item] {
	return Stream[Req, Item]{name: name}
}

// Name returns the stream's type name that travels in the envelope.
func (s Stream[Req, Item]) Name() string { return s.name }
