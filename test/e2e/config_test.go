package e2e

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// tagger appends s to string payloads in both directions and records the
// order it ran in.
func tagger(s string, seen *[]string, mu *sync.Mutex) shared.Middleware {
	return func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		mu.Lock()
		*seen = append(*seen, dir.String()+":"+s)
		mu.Unlock()
		if p, ok := msg.Payload.(string); ok {
			msg.Payload = p + s
		}
		return nil
	}
}

func TestHostMiddlewareOrderAndReplacement(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	cfg, _ := config(t)
	cfg.Middleware = []shared.Middleware{tagger("[h0]", &seen, &mu), tagger("[h1]", &seen, &mu)}
	w := start(t, cfg)
	got, err := host.Call(ctxT(t), w, testproto.Ping, "x")
	if err != nil {
		t.Fatal(err)
	}
	if want := "pong:x[h0][h1][h0][h1]"; got != want {
		t.Errorf("Call through middleware = %q, want %q", got, want)
	}
	want := []string{"outgoing:[h0]", "outgoing:[h1]", "incoming:[h0]", "incoming:[h1]"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("middleware order (-want +got):\n%s", diff)
	}
}

func TestHostMiddlewareFailure(t *testing.T) {
	var calls int
	fail := func(on shared.Direction) shared.Middleware {
		return func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
			if dir == on {
				return errors.New("policy says no")
			}
			return nil
		}
	}
	later := func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		calls++
		return nil
	}
	for _, dir := range []shared.Direction{shared.Outgoing, shared.Incoming} {
		t.Run(dir.String(), func(t *testing.T) {
			calls = 0
			cfg, _ := config(t)
			cfg.Middleware = []shared.Middleware{func(context.Context, shared.Direction, *shared.AnyMessage) error { return nil }, fail(dir), later}
			w := start(t, cfg)
			_, err := host.Call(ctxT(t), w, testproto.Ping, "x")
			var me *shared.MiddlewareError
			if !errors.As(err, &me) || me.Index != 1 || me.Direction != dir {
				t.Fatalf("Call = %v, want a MiddlewareError from middleware 1, %s", err, dir)
			}
			want := `middleware 1 (` + dir.String() + ` "ping"): policy says no`
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error = %q, want it to contain %q", err, want)
			}
			if dir == shared.Outgoing && calls != 0 {
				t.Errorf("later middleware ran %d times after a failure", calls)
			}
		})
	}
}

func TestHostMiddlewareSeesTxIDAndEditsItsOwnHeaders(t *testing.T) {
	var txIDs []string
	cfg, _ := config(t)
	cfg.Middleware = []shared.Middleware{func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if dir == shared.Outgoing {
			txIDs = append(txIDs, msg.TxID)
			msg.Headers["x-host-mw"] = "set" // no nil map, even when the caller set no headers
		}
		return nil
	}}
	w := start(t, cfg)

	got, err := host.Call(ctxT(t), w, testproto.Headers, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"x-host-mw": "set"}, got); diff != "" {
		t.Errorf("headers in handler without caller headers (-want +got):\n%s", diff)
	}

	callers := map[string]string{"tenant": "acme"}
	got, err = host.Call(shared.WithHeaders(ctxT(t), callers), w, testproto.Headers, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"tenant": "acme", "x-host-mw": "set"}, got); diff != "" {
		t.Errorf("headers in handler (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"tenant": "acme"}, callers); diff != "" {
		t.Errorf("middleware changed the caller's header map (-want +got):\n%s", diff)
	}
	if len(txIDs) != 2 || txIDs[0] == "" || txIDs[1] == "" || txIDs[0] == txIDs[1] {
		t.Errorf("outgoing middleware saw transaction ids %q, want two distinct ids", txIDs)
	}
}

func TestWorkerMiddlewareHeadersAndErrorReplies(t *testing.T) {
	w, _ := startArgs(t, "-mw", "headers")
	ctx := shared.WithHeaders(ctxT(t), map[string]string{"tenant": "acme", "drop-me": "1"})
	got, err := host.Call(ctx, w, testproto.Headers, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"tenant": "acme", "x-worker-mw": "seen"}, got); diff != "" {
		t.Errorf("handler headers, as the incoming middleware left them (-want +got):\n%s", diff)
	}
	_, err = host.Call(ctxT(t), w, testproto.Fail, testproto.FailReq{Message: "no stock", Class: "business"})
	var re *shared.RemoteError
	if !errors.As(err, &re) || re.Message != "no stock [w-out]" || re.Class != "business" {
		t.Errorf("Fail = %v, want the error reply as the outgoing middleware left it", err)
	}
}

func TestMiddlewareReplacingPayloadWithOtherType(t *testing.T) {
	cfg, _ := config(t)
	cfg.Middleware = []shared.Middleware{func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		msg.Payload = 42
		return nil
	}}
	w := start(t, cfg)
	_, err := host.Call(ctxT(t), w, testproto.Ping, "x")
	if err == nil || !strings.Contains(err.Error(), "replaced payload of type string with int") {
		t.Errorf("Call = %v, want a type replacement error", err)
	}
}

func TestWorkerMiddleware(t *testing.T) {
	tests := []struct {
		mode     string
		want     string
		wantCode string
		wantMsg  string
	}{
		{mode: "tag", want: "pong:x[w0][w1]"},
		{mode: "fail-incoming", wantCode: shared.CodeMiddleware, wantMsg: `middleware 0 (incoming "ping"): refused by test middleware`},
		{mode: "fail-outgoing", wantCode: shared.CodeMiddleware, wantMsg: `middleware 1 (outgoing "ping"): refused by test middleware`},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			w, _ := startArgs(t, "-mw", tt.mode)
			got, err := host.Call(ctxT(t), w, testproto.Ping, "x")
			if tt.wantCode == "" {
				if err != nil || got != tt.want {
					t.Errorf("Call = %q, %v, want %q", got, err, tt.want)
				}
				return
			}
			var re *shared.RemoteError
			if !errors.As(err, &re) || re.Code != tt.wantCode || re.Message != tt.wantMsg {
				t.Errorf("Call = %v, want a RemoteError %q: %q", err, tt.wantCode, tt.wantMsg)
			}
			// The worker keeps serving: the next call gets its own prompt reply.
			_, err = host.Call(ctxT(t), w, testproto.Ping, "y")
			if !errors.As(err, &re) || re.Code != tt.wantCode {
				t.Errorf("next call = %v, want another %q reply", err, tt.wantCode)
			}
		})
	}
}

func TestMsgPackRoundTrip(t *testing.T) {
	cfg, _ := config(t, "-serializer", "msgpack")
	cfg.Serializer = shared.MsgPack{}
	w := start(t, cfg)
	item := testproto.Item{
		Name:  "zero\x00\x00bytes\x01and\x02escapes",
		Count: 0,
		Tags:  map[string]string{"\x00": "\x00\x00"},
		Blob:  []byte{0, 0, 0, 1, 1, 2, 0, 0, 255},
	}
	got, err := host.Call(ctxT(t), w, testproto.EchoItem, item)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(item, got); diff != "" {
		t.Errorf("msgpack EchoItem (-want +got):\n%s", diff)
	}
	blob := bytes.Repeat([]byte{0, 0, 1, 0}, 100_000)
	echo, err := host.Call(ctxT(t), w, testproto.Echo, blob)
	if err != nil || !bytes.Equal(echo, blob) {
		t.Errorf("msgpack raw echo: %v (equal %v)", err, bytes.Equal(echo, blob))
	}
	if _, err := host.Call(ctxT(t), w, testproto.Fail, testproto.FailReq{Message: "via msgpack", Class: "permanent"}); err == nil || !strings.Contains(err.Error(), "via msgpack") {
		t.Errorf("msgpack error reply = %v", err)
	}
}

func TestDefaultWorkerSerializerAgainstMsgPackHost(t *testing.T) {
	cfg, _ := config(t) // the worker has no serializer option: JSON
	cfg.Serializer = shared.MsgPack{}
	_, err := host.Start(ctxT(t), cfg)
	if err == nil || !strings.HasSuffix(err.Error(), "serializer mismatch: host uses msgpack, worker uses json") {
		t.Errorf("Start = %v, want the worker's mismatch text verbatim", err)
	}
	var sm *handshake.SerializerMismatchError
	if !errors.As(err, &sm) || sm.Host != "msgpack" || sm.Worker != "json" {
		t.Errorf("Start = %v, want errors.As to find a *handshake.SerializerMismatchError{msgpack, json}", err)
	}
}

func TestPanickingLoggerIsSuppressed(t *testing.T) {
	cfg, _ := config(t)
	cfg.Logger = panicLogger{hclog.NewNullLogger()}
	w := start(t, cfg)
	for range 3 {
		if _, err := host.Call(ctxT(t), w, testproto.Log, testproto.LogReq{Level: "error", Message: "to a broken logger"}); err != nil {
			t.Fatalf("Call with a panicking logger: %v", err)
		}
	}
}

type panicLogger struct{ hclog.Logger }

func (panicLogger) Log(hclog.Level, string, ...any) { panic("logger is broken") }
func (panicLogger) Error(string, ...any)            { panic("logger is broken") }
func (panicLogger) Info(string, ...any)             { panic("logger is broken") }
func (panicLogger) Debug(string, ...any)            { panic("logger is broken") }
func (p panicLogger) Named(string) hclog.Logger     { return p }

func TestLogLevelFiltersWorkerRecords(t *testing.T) {
	cfg, sink := config(t)
	cfg.LogLevel = hclog.Warn
	w := start(t, cfg)
	for _, lvl := range []string{"debug", "info", "warn", "error"} {
		if _, err := host.Call(ctxT(t), w, testproto.Log, testproto.LogReq{Level: lvl, Message: "level " + lvl}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the error record", func() bool { return sink.find("level error") != nil })
	for lvl, want := range map[string]bool{"debug": false, "info": false, "warn": true, "error": true} {
		if got := sink.find("level "+lvl) != nil; got != want {
			t.Errorf("record at %s logged = %v, want %v (host LogLevel warn)", lvl, got, want)
		}
	}
}

func TestDefaultTxIDIsUUIDv4(t *testing.T) {
	var ids []string
	var mu sync.Mutex
	cfg, _ := config(t)
	cfg.Middleware = []shared.Middleware{func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if dir == shared.Incoming {
			mu.Lock()
			ids = append(ids, msg.TxID)
			mu.Unlock()
		}
		return nil
	}}
	w := start(t, cfg)
	for range 3 {
		host.Call(ctxT(t), w, testproto.Ping, "x")
	}
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, id := range ids {
		if !re.MatchString(id) {
			t.Errorf("transaction id %q is not a UUID v4", id)
		}
	}
	if len(ids) != 3 || ids[0] == ids[1] {
		t.Errorf("ids = %v, want 3 distinct", ids)
	}
}

func TestTxIDGeneratorSeesWholeMessage(t *testing.T) {
	cfg, _ := config(t)
	cfg.TxIDGenerator = func(m *shared.AnyMessage) string {
		return m.Type + "-" + m.Headers["job"] + "-" + m.Payload.(string)
	}
	var got string
	cfg.Middleware = []shared.Middleware{func(ctx context.Context, dir shared.Direction, msg *shared.AnyMessage) error {
		if dir == shared.Incoming {
			got = msg.TxID
		}
		return nil
	}}
	w := start(t, cfg)
	if _, err := host.Call(shared.WithHeader(ctxT(t), "job", "j7"), w, testproto.Ping, "p"); err != nil {
		t.Fatal(err)
	}
	if got != "ping-j7-p" {
		t.Errorf("transaction id = %q, want ping-j7-p", got)
	}
}
