package wire

import (
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// YamuxConfig is the session configuration both sides use. The larger
// stream window lets a large payload flow without waiting for window
// updates every 256 KiB.
func YamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = 1024
	c.MaxStreamWindowSize = 16 << 20
	c.KeepAliveInterval = 15 * time.Second
	c.LogOutput = io.Discard
	return c
}

// LargeThreshold is the payload size from which a raw payload travels on a
// stream of its own, so it does not hold up small calls on the shared
// calls stream.
const LargeThreshold = 64 << 10

// WriteLarge sends one encoded message on a new stream of its own.
func WriteLarge(sess *yamux.Session, out, raw []byte) error {
	s, err := sess.OpenStream()
	if err != nil {
		return err
	}
	defer s.Close()
	if err := WriteStreamName(s, StreamLarge); err != nil {
		return err
	}
	if _, err := s.Write(out); err != nil {
		return err
	}
	_, err = s.Write(raw)
	return err
}
