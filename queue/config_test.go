package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/isolated-workers/isolated-workers-go/shared/retry"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" means valid
	}{
		{"zero", Config{}, ""},
		{"cluster", Config{URLs: []string{"nats://a:4222", "nats://b:4222"}, Replicas: 3}, ""},
		{"bad name", Config{Name: "iw.jobs"}, "Name"},
		{"negative replicas", Config{Replicas: -1}, "Replicas"},
		{"negative window", Config{DuplicateWindow: -time.Second}, "DuplicateWindow"},
		{"both URLs and StoreDir", Config{URLs: []string{"nats://a"}, StoreDir: "/tmp/x"}, "not both"},
		{"ConfigureServer with URLs", Config{URLs: []string{"nats://a"}, ConfigureServer: func(*server.Options) {}}, "ConfigureServer"},
		{"empty URL", Config{URLs: []string{" "}}, "URLs[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error mentioning %q (or none if empty)", err, tt.want)
			}
		})
	}
}

func TestConsumerConfigValidate(t *testing.T) {
	h := func(context.Context, Job) error { return nil }
	tests := []struct {
		name string
		cfg  ConsumerConfig
		want string
	}{
		{"minimal", ConsumerConfig{Handler: h}, ""},
		{"no handler", ConsumerConfig{}, "Handler"},
		{"bad type", ConsumerConfig{Handler: h, Types: []string{"a.b"}}, "Types[0]"},
		{"tiny ack wait", ConsumerConfig{Handler: h, AckWait: time.Millisecond}, "AckWait"},
		{"bad policy", ConsumerConfig{Handler: h, Retry: retryPolicyWithNegativeAttempts()}, "MaxAttempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error mentioning %q (or none if empty)", err, tt.want)
			}
		})
	}
}

func TestEnqueueRejectsBadJobs(t *testing.T) {
	q := openQueue(t, "")
	ctx := testContext(t)
	for _, job := range []Job{
		{Type: "t"},
		{ID: "x", Type: "a b"},
		{ID: "x", Type: "t", Delay: -time.Second},
		{ID: "x", Type: "t", Headers: map[string]string{"Nats-Msg-Id": "y"}},
		{ID: "x", Type: "t", Headers: map[string]string{"Iw-Job-Id": "y"}},
		{ID: strings.Repeat("x", MaxJobIDLen+1), Type: "t"},
	} {
		if _, err := q.Enqueue(ctx, job); err == nil {
			t.Errorf("Enqueue(%.60v) = nil, want an error", job)
		}
	}
}

func TestTokenRoundTrip(t *testing.T) {
	for _, id := range []string{"a", "order-42", "0190c1f2_ULID", "order:42", "a.b", "*", ">", "b64", "b64.x", "ünï", " "} {
		tok := token(id)
		if strings.ContainsAny(tok, " *>") || strings.HasPrefix(tok, ".") {
			t.Errorf("token(%q) = %q, not a subject token", id, tok)
		}
		if got, ok := untoken(tok); !ok || got != id {
			t.Errorf("untoken(token(%q) = %q) = %q, %v; want %q", id, tok, got, ok, id)
		}
	}
}

// TestSameCodeOverURLs runs one queue with an embedded server that also
// listens on a loopback port, and a second queue that reaches it through
// Config.URLs, as a host reaches an external cluster.
func TestSameCodeOverURLs(t *testing.T) {
	ctx := testContext(t)
	q1, err := Open(ctx, Config{StoreDir: t.TempDir(), ConfigureServer: func(o *server.Options) {
		o.DontListen = false
		o.Host = "127.0.0.1"
		o.Port = server.RANDOM_PORT
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q1.Close() })
	q2, err := Open(ctx, Config{URLs: []string{q1.ns.ClientURL()}})
	if err != nil {
		t.Fatalf("Open(URLs %s) = %v", q1.ns.ClientURL(), err)
	}
	t.Cleanup(func() { q2.Close() })

	if _, err := q2.Enqueue(ctx, Job{ID: "remote", Type: "t"}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	consume(t, q1, ConsumerConfig{Handler: func(_ context.Context, job Job) error {
		got <- job.ID
		return nil
	}})
	if id := recv(t, got, "job enqueued over the URL"); id != "remote" {
		t.Errorf("ran %q, want remote", id)
	}
	if err := q2.Close(); err != nil {
		t.Errorf("Close() of the URL client = %v", err)
	}
	if _, err := q2.Enqueue(ctx, Job{ID: "late", Type: "t"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close = %v, want ErrClosed", err)
	}
}

func retryPolicyWithNegativeAttempts() (p retry.Policy) {
	p.MaxAttempts = -1
	return p
}
