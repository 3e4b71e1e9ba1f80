package peer

import (
	"errors"
	"fmt"
	"io"

	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// readEvents delivers the peer's events to OnEvent and counts, per call,
// the events delivered, for the calls that wait for them (waitEvents).
func (c *Conn) readEvents(r *frame.Reader) {
	for {
		h, body, err := c.cfg.Codec.Read(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && c.Err() == nil {
				c.cfg.Logger.Debug("events stream ended", "peer", c.cfg.Peer, "error", err)
			}
			c.eventsEnded(err)
			return
		}
		if h.Kind != shared.KindEvent {
			c.cfg.Unexpected.Add("stream", "events", "kind", h.Kind, "type", h.Type)
			continue
		}
		if c.cfg.OnEvent != nil {
			c.cfg.OnEvent(&h, body)
		}
		if h.ID != "" {
			c.delivered(h.ID)
		}
	}
}

// eventsEnded records that no more events will be read although the
// connection works (a malformed event), and wakes the calls waiting for
// events.
func (c *Conn) eventsEnded(err error) {
	if c.ymx.IsClosed() {
		return // the connection ended: fail wakes them with its cause
	}
	c.mu.Lock()
	c.eventsErr = fmt.Errorf("events stream ended: %w", err)
	for _, cl := range c.pending {
		if cl.replied {
			select {
			case cl.evCh <- struct{}{}:
			default:
			}
		}
	}
	c.mu.Unlock()
}

// delivered counts one delivered event for the call id, if it waits.
func (c *Conn) delivered(id string) {
	c.mu.Lock()
	if cl := c.pending[id]; cl != nil {
		cl.events++
		if cl.replied && cl.events == cl.want {
			select {
			case cl.evCh <- struct{}{}:
			default:
			}
		}
	}
	c.mu.Unlock()
}
