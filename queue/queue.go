package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Queue is a durable job queue on NATS JetStream: a jobs stream, a
// dead-letter stream and two key-value buckets (latest status per job,
// attempt errors per job). It is safe for concurrent use.
type Queue struct {
	cfg Config
	n   names

	ns *server.Server // nil with an external cluster
	nc *nats.Conn
	js jetstream.JetStream

	jobs     jetstream.Stream
	dead     jetstream.Stream
	status   jetstream.KeyValue
	attempts jetstream.KeyValue

	statusFailed atomic.Uint64 // status events the engine did not store

	deadLetters *DeadLetters
	publisher   *StatusPublisher

	closeOnce sync.Once
	mu        sync.Mutex
	closed    bool
	closing   chan struct{}  // closed by Close
	wg        sync.WaitGroup // Consume and Feed calls running; Add under mu
}

// Open starts an embedded JetStream server on cfg.StoreDir (or connects to
// cfg.URLs), creates or updates the queue's streams and buckets, and
// returns the queue. Close releases it.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()

	q := &Queue{cfg: cfg, n: newNames(cfg.Name), closing: make(chan struct{})}
	if err := q.connect(ctx); err != nil {
		q.shutdown()
		return nil, err
	}
	if err := q.setup(ctx); err != nil {
		q.shutdown()
		return nil, err
	}
	q.deadLetters = &DeadLetters{q: q}
	q.publisher = &StatusPublisher{q: q}
	return q, nil
}

func (q *Queue) connect(ctx context.Context) error {
	cfg := q.cfg
	var opts []nats.Option
	var url string
	if len(cfg.URLs) == 0 {
		if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
			return fmt.Errorf("queue: create store directory: %w", err)
		}
		sopts := &server.Options{
			ServerName: "iw-queue",
			JetStream:  true,
			StoreDir:   cfg.StoreDir,
			DontListen: true,
			NoSigs:     true,
			NoLog:      true,
		}
		if cfg.ConfigureServer != nil {
			cfg.ConfigureServer(sopts)
		}
		ns, err := server.NewServer(sopts)
		if err != nil {
			return fmt.Errorf("queue: embedded server on %s: %w", cfg.StoreDir, err)
		}
		q.ns = ns
		ns.Start()
		if !ns.ReadyForConnections(timeLeft(ctx)) {
			return fmt.Errorf("queue: embedded server on %s: not ready within %v", cfg.StoreDir, cfg.StartTimeout)
		}
		if !ns.JetStreamEnabled() {
			return fmt.Errorf("queue: embedded server on %s: JetStream did not start (is the directory writable, and not used by another process?)", cfg.StoreDir)
		}
		opts = append(opts, nats.InProcessServer(ns))
	} else {
		url = strings.Join(cfg.URLs, ",")
		if cfg.CredentialsFile != "" {
			opts = append(opts, nats.UserCredentials(cfg.CredentialsFile))
		}
		if cfg.TLS != nil {
			opts = append(opts, nats.Secure(cfg.TLS))
		}
		opts = append(opts, nats.Timeout(timeLeft(ctx)))
	}
	opts = append(opts, nats.Name("isolated-workers queue"))
	opts = append(opts, cfg.NATSOptions...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if q.ns != nil {
			return fmt.Errorf("queue: connect to the embedded server: %w", err)
		}
		return fmt.Errorf("queue: connect to %s: %w", url, err)
	}
	q.nc = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		q.statusFailed.Add(1)
		q.cfg.Logger.Warn("storing a status event failed", "subject", m.Subject, "error", err)
	}))
	if err != nil {
		return fmt.Errorf("queue: jetstream: %w", err)
	}
	q.js = js
	return nil
}

// setup creates or updates the streams and buckets.
func (q *Queue) setup(ctx context.Context) error {
	cfg, n := q.cfg, q.n
	var err error
	q.jobs, err = q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              n.jobsStream,
		Description:       "isolated-workers jobs: " + n.jobs + ".<type>, delayed ones scheduled on " + n.sched + ".<type>.<id>",
		Subjects:          []string{n.jobs + ".>", n.sched + ".>"},
		Retention:         jetstream.WorkQueuePolicy,
		Storage:           jetstream.FileStorage,
		Replicas:          cfg.Replicas,
		Duplicates:        cfg.DuplicateWindow,
		AllowMsgSchedules: true,
	})
	if err != nil {
		return fmt.Errorf("queue: create stream %s: %w", n.jobsStream, err)
	}
	q.dead, err = q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        n.deadStream,
		Description: "isolated-workers dead letters: jobs that failed for good, with every attempt's error",
		Subjects:    []string{n.dead + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.DeadLetterRetention,
		MaxMsgs:     int64(cfg.DeadLetterMaxEntries),
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("queue: create stream %s: %w", n.deadStream, err)
	}
	q.status, err = q.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.statusKV,
		Description: "isolated-workers latest status per job; every change is republished on " + n.stat + ".<job>",
		History:     1,
		TTL:         cfg.StatusTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		RePublish: &jetstream.RePublish{
			Source:      "$KV." + n.statusKV + ".>",
			Destination: n.stat + ".>",
		},
	})
	if err != nil {
		return fmt.Errorf("queue: create bucket %s: %w", n.statusKV, err)
	}
	q.attempts, err = q.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.attemptsKV,
		Description: "isolated-workers errors of a job's failed attempts so far, for its dead letter",
		History:     1,
		TTL:         cfg.DeadLetterRetention,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("queue: create bucket %s: %w", n.attemptsKV, err)
	}
	return nil
}

// DeadLetters returns the queue's durable dead-letter store.
func (q *Queue) DeadLetters() *DeadLetters { return q.deadLetters }

// Status returns a status.Publisher that stores every event in the status
// bucket and publishes it on the job's status subject.
func (q *Queue) Status() *StatusPublisher { return q.publisher }

// Close stops the queue: Consume and Feed calls return ErrClosed, status
// updates in flight are flushed (for at most Config.CloseTimeout), the
// connection is closed and the embedded server, if any, shut down. Close
// returns after all of it, and after every Consume and Feed call has
// returned; it is idempotent.
func (q *Queue) Close() error {
	var err error
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		close(q.closing)
		q.mu.Unlock()
		q.wg.Wait()
		err = q.shutdown()
	})
	return err
}

func (q *Queue) shutdown() error {
	var err error
	if q.nc != nil {
		if q.js != nil {
			t := time.NewTimer(q.cfg.CloseTimeout)
			select {
			case <-q.js.PublishAsyncComplete():
				t.Stop()
			case <-t.C:
				err = fmt.Errorf("queue: close: %d status updates not confirmed within %v", q.js.PublishAsyncPending(), q.cfg.CloseTimeout)
			}
		}
		if ferr := q.nc.FlushTimeout(q.cfg.CloseTimeout); ferr != nil && !errors.Is(ferr, nats.ErrConnectionClosed) {
			err = errors.Join(err, fmt.Errorf("queue: close: flush: %w", ferr))
		}
		q.nc.Close()
	}
	if q.ns != nil {
		q.ns.Shutdown()
		q.ns.WaitForShutdown()
	}
	return err
}

// enter registers a running Consume or Feed; it fails after Close.
func (q *Queue) enter() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.wg.Add(1)
	return nil
}
