package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/isolated-workers/isolated-workers-go/internal/frame"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Codec encodes and decodes envelopes for one serializer.
type Codec struct {
	ser      shared.Serializer
	term     []byte
	leanJSON bool
	maxFrame int
	maxRaw   int
	names    map[string]string

	// self names this side ("host", "worker") in errors about its limits.
	self string
	// Encode's limits: the smaller of this side's and the peer's, and
	// whose they are.
	sendFrame, sendRaw   int
	frameOwner, rawOwner string
}

// NewCodec returns a codec for ser. Frames over maxFrame and raw bodies over
// maxRaw bytes are refused. names are message and event type names to intern,
// so decoding a header allocates no string for them.
func NewCodec(ser shared.Serializer, maxFrame, maxRaw int, names []string) *Codec {
	_, lean := ser.(shared.JSON)
	c := &Codec{ser: ser, term: ser.Terminator(), leanJSON: lean, maxFrame: maxFrame, maxRaw: maxRaw,
		names: make(map[string]string, len(names)), sendFrame: maxFrame, sendRaw: maxRaw}
	for _, n := range names {
		c.names[n] = n
	}
	return c
}

// WithOwner returns a copy of c whose errors about its own limits say they
// are self's ("host" or "worker"): "request of 8213 bytes exceeds the
// worker's MaxFrameSize 4096". Call it before WithPeerLimits.
func (c *Codec) WithOwner(self string) *Codec {
	cc := *c
	cc.self, cc.frameOwner, cc.rawOwner = self, self, self
	return &cc
}

// WithPeerLimits returns a copy of c whose Encode also refuses what the
// peer, named owner ("worker" or "host"), said it would refuse: a frame
// over maxFrame or a raw payload over maxRaw bytes (zero: not stated). The
// error names the peer's limit, so nothing is sent that the peer would
// have to drop.
func (c *Codec) WithPeerLimits(owner string, maxFrame, maxRaw int) *Codec {
	cc := *c
	if maxFrame > 0 && maxFrame < cc.sendFrame {
		cc.sendFrame, cc.frameOwner = maxFrame, owner
	}
	if maxRaw > 0 && maxRaw < cc.sendRaw {
		cc.sendRaw, cc.rawOwner = maxRaw, owner
	}
	return &cc
}

// MaxRaw returns the largest raw payload the codec accepts.
func (c *Codec) MaxRaw() int { return c.maxRaw }

// Serializer returns the codec's serializer.
func (c *Codec) Serializer() shared.Serializer { return c.ser }

// Terminator returns the serializer's terminator.
func (c *Codec) Terminator() []byte { return c.term }

// MaxFrame returns the largest frame the codec accepts.
func (c *Codec) MaxFrame() int { return c.maxFrame }

func (c *Codec) intern(b []byte) string {
	if s, ok := c.names[string(b)]; ok {
		return s
	}
	return string(b)
}

// Encode appends the header frame and, for a serialized payload, the
// payload frame to dst. A []byte payload is not copied: it is returned as
// raw, to be written after the returned bytes. h.Body and h.RawLen are set
// from the payload. A frame or raw payload over the limits (see
// WithPeerLimits) is refused with a *shared.FrameTooLargeError naming the
// message and whose limit it exceeded.
func (c *Codec) Encode(dst []byte, h *Header, payload any) (out, raw []byte, err error) {
	var body []byte
	switch p := payload.(type) {
	case nil:
		h.Body, h.RawLen = BodyNone, 0
	case []byte:
		if len(p) > c.sendRaw {
			return dst, nil, fmt.Errorf("encode %s %q: %w", h.Kind, h.Type, &shared.FrameTooLargeError{
				What: "raw " + h.Kind.String(), Size: len(p), Limit: c.sendRaw, LimitName: "MaxRawSize", Owner: c.rawOwner})
		}
		h.Body, h.RawLen, raw = BodyRaw, len(p), p
	default:
		if body, err = c.ser.Marshal(payload); err != nil {
			return dst, nil, fmt.Errorf("encode %s %q with %s: %w", h.Kind, h.Type, c.ser.Name(), err)
		}
		h.Body, h.RawLen = BodyFrame, 0
	}
	start := len(dst)
	header := true // which frame failed, for the error
	if c.leanJSON {
		hb := appendJSONHeader(dst[len(dst):], h) // encode into spare capacity
		dst, err = frame.Append(dst, hb, c.term, c.sendFrame)
	} else {
		var hb []byte
		hc := *h // a copy: handing h to the serializer would move every caller's header to the heap
		if hb, err = c.ser.Marshal(&hc); err == nil {
			dst, err = frame.Append(dst, hb, c.term, c.sendFrame)
		}
	}
	if err == nil && body != nil {
		header = false
		dst, err = frame.Append(dst, body, c.term, c.sendFrame)
	}
	if err != nil {
		var tl *shared.FrameTooLargeError
		if errors.As(err, &tl) {
			tl.What, tl.LimitName, tl.Owner = h.Kind.String(), "MaxFrameSize", c.frameOwner
			if header {
				tl.What += " header"
			}
		}
		return dst[:start], nil, fmt.Errorf("encode %s %q: %w", h.Kind, h.Type, err)
	}
	return dst, raw, nil
}

// ErrMalformed marks a message that could not be decoded; the stream it
// came from can no longer be trusted.
var ErrMalformed = errors.New("malformed message")

// Read reads one message. body is nil for BodyNone, the payload frame for
// BodyFrame (valid until the next read), or a fresh slice for BodyRaw.
//
// A message too large is dropped without being held in memory, and the
// error is a *shared.FrameTooLargeError naming this side's limit (see
// WithOwner). The stream stays in step: the next Read returns the next
// message. When only the payload was too large, h is the message's header,
// so the caller can answer or fail that call; when the header itself was
// too large, h is zero and whatever payload frame followed it would be
// read as the next header.
//
// A raw body that stops arriving fails with an error wrapping
// shared.ErrBodyStalled (see frame.Reader.SetStallTimeout), with h set;
// the stream is then out of step and must be abandoned.
func (c *Codec) Read(r *frame.Reader) (h Header, body []byte, err error) {
	hb, err := r.Next()
	if err != nil {
		var tl *shared.FrameTooLargeError
		if errors.As(err, &tl) {
			tl.What, tl.LimitName, tl.Owner = "header", "MaxFrameSize", c.self
		}
		return h, nil, err
	}
	if err := c.DecodeHeader(hb, &h); err != nil {
		return h, nil, err
	}
	switch h.Body {
	case BodyNone:
		return h, nil, nil
	case BodyFrame:
		body, err = r.Next()
		if err != nil {
			err = c.payloadError(&h, err)
		}
		return h, body, err
	case BodyRaw:
		if h.RawLen < 0 {
			return h, nil, fmt.Errorf("%w: negative raw length %d", ErrMalformed, h.RawLen)
		}
		if h.RawLen > c.maxRaw {
			tl := &shared.FrameTooLargeError{What: "raw " + h.Kind.String(), Size: h.RawLen, Limit: c.maxRaw, LimitName: "MaxRawSize", Owner: c.self}
			if err := r.DiscardRaw(h.RawLen); err != nil {
				return h, nil, fmt.Errorf("skip the %s of %d bytes over MaxRawSize %d: %w", tl.What, tl.Size, tl.Limit, err)
			}
			return h, nil, tl
		}
		body, err = r.ReadRaw(h.RawLen)
		return h, body, err
	}
	return h, nil, fmt.Errorf("%w: unknown body kind %d", ErrMalformed, h.Body)
}

// payloadError names what failed reading the payload frame of h.
func (c *Codec) payloadError(h *Header, err error) error {
	var tl *shared.FrameTooLargeError
	switch {
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("%w: stream ended before the payload of %s %q", ErrMalformed, h.Kind, h.Type)
	case errors.As(err, &tl):
		tl.What, tl.LimitName, tl.Owner = h.Kind.String(), "MaxFrameSize", c.self
	}
	return err
}

// DecodeHeader decodes a header frame. h does not escape: the fast JSON
// path parses into it, and the serializers decode into a header of their
// own that is then copied, so a caller's header stays on its stack.
func (c *Codec) DecodeHeader(b []byte, h *Header) error {
	if c.leanJSON && parseJSONHeader(b, h, c.intern) {
		return nil
	}
	hh := new(Header)
	var err error
	if c.leanJSON {
		err = json.Unmarshal(b, hh)
	} else {
		err = c.ser.Unmarshal(b, hh)
	}
	if err != nil {
		*h = Header{}
		return fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	*h = *hh
	return nil
}

// DecodeBody decodes a message body into v, a pointer. A raw body decodes
// only into a *[]byte.
func (c *Codec) DecodeBody(h *Header, body []byte, v any) error {
	switch h.Body {
	case BodyRaw:
		if p, ok := v.(*[]byte); ok {
			*p = body
			return nil
		}
		return fmt.Errorf("%w: raw bytes for %s %q, which does not take []byte", ErrMalformed, h.Kind, h.Type)
	case BodyFrame:
		if err := c.ser.Unmarshal(body, v); err != nil {
			return fmt.Errorf("decode %s %q payload with %s: %w", h.Kind, h.Type, c.ser.Name(), err)
		}
		return nil
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 1 {
		for k := range m {
			return []string{k}
		}
	}
	return slices.Sorted(maps.Keys(m))
}
