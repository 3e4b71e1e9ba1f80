package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The OpenTelemetry instruments of a Pool (PoolConfig.MeterProvider). The
// call duration follows the OpenTelemetry RPC semantic conventions
// (rpc.client.call.duration: seconds, rpc.system.name, rpc.method,
// error.type); the rest are this library's own, under
// isolated_workers.pool. Every instrument carries AttrPoolName.
//
// Levels (workers, calls in flight, queued calls) and counters (restarts,
// calls, crash retries) are observed by a callback when the reader
// collects, from the same counters as Pool.Stats; durations are histograms
// recorded as they happen.
const (
	// MetricWorkers (UpDownCounter, {worker}, observed): the pool's
	// workers by AttrWorkerState: starting, ready, spare, draining.
	MetricWorkers = "isolated_workers.pool.workers"
	// MetricRestarts (Counter, {restart}, observed): workers replaced, by
	// AttrRestartReason: crash, unhealthy, max-memory, max-calls,
	// start-failed, connection-lost (PoolStats.Restarts).
	MetricRestarts = "isolated_workers.pool.restarts"
	// MetricWorkerStartDuration (Histogram, s): the time a worker took
	// from its launch to serving (its handshake), for each worker the pool
	// started; workers that failed to start count in MetricRestarts
	// (start-failed) instead.
	MetricWorkerStartDuration = "isolated_workers.pool.worker.start.duration"
	// MetricCallsInFlight (UpDownCounter, {call}, observed): calls running
	// on the pool's workers (PoolStats.InFlight).
	MetricCallsInFlight = "isolated_workers.pool.calls.in_flight"
	// MetricCallsQueued (UpDownCounter, {call}, observed): calls waiting
	// for a worker (PoolStats.Queued).
	MetricCallsQueued = "isolated_workers.pool.calls.queued"
	// MetricQueueWaitDuration (Histogram, s): how long each call that
	// queued waited for a worker (PoolStats.QueueWaits, QueueWait).
	MetricQueueWaitDuration = "isolated_workers.pool.queue.wait.duration"
	// MetricCalls (Counter, {call}, observed): finished calls by
	// AttrCallOutcome (the Outcome* values; PoolStats.Calls).
	MetricCalls = "isolated_workers.pool.calls"
	// MetricCrashRetries (Counter, {call}, observed): calls re-sent to
	// another worker after theirs died (PoolStats.CrashRetries).
	MetricCrashRetries = "isolated_workers.pool.crash_retries"
	// MetricCallDuration (Histogram, s): the duration of each call on the
	// pool as its caller sees it (queue wait and crash retries included),
	// with AttrRPCSystemName, AttrRPCMethod (the message name) and, when
	// it failed, AttrErrorType (its outcome: error, crash, queue_full,
	// pool_failed, closed, canceled, deadline, other). The buckets are
	// the ones the conventions advise.
	MetricCallDuration = "rpc.client.call.duration"
)

// Attributes of the pool's instruments.
const (
	AttrPoolName      = attribute.Key("isolated_workers.pool.name")      // PoolConfig.Worker.Name
	AttrWorkerState   = attribute.Key("isolated_workers.worker.state")   // WorkerState.String()
	AttrRestartReason = attribute.Key("isolated_workers.restart.reason") // a Reason* value
	AttrCallOutcome   = attribute.Key("isolated_workers.call.outcome")   // an Outcome* value
	AttrRPCSystemName = attribute.Key("rpc.system.name")                 // RPCSystemName
	AttrRPCMethod     = attribute.Key("rpc.method")                      // the message name
	AttrErrorType     = attribute.Key("error.type")                      // the outcome of a failed call
)

// RPCSystemName is the value of AttrRPCSystemName (the tracing package's
// rpc.system).
const RPCSystemName = "isolated-workers"

// MeterName is the instrumentation scope of the pool's meter.
const MeterName = "github.com/isolated-workers/isolated-workers-go/host"

var (
	// callDurationBuckets are the bounds the RPC conventions advise for
	// rpc.client.call.duration.
	callDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	// waitBuckets start lower: a queue wait or a worker start is often
	// well under 5 ms.
	waitBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	// metricWorkerStates and metricRestartReasons are always observed,
	// zero included, so their series exist from the start.
	metricWorkerStates   = []WorkerState{WorkerStarting, WorkerReady, WorkerSpare, WorkerDraining}
	metricRestartReasons = []string{ReasonCrash, ReasonUnhealthy, ReasonMaxMemory, ReasonMaxCalls, ReasonStartFailed, ReasonConnLost}
)

// poolMetrics holds a pool's instruments.
type poolMetrics struct {
	pool         attribute.KeyValue
	poolOpt      metric.MeasurementOption
	startDur     metric.Float64Histogram
	queueWait    metric.Float64Histogram
	callDur      metric.Float64Histogram
	reg          metric.Registration
	callAttrs    sync.Map // callKey -> metric.MeasurementOption
	unregistered sync.Once
}

type callKey struct {
	method  string
	outcome int
}

// newPoolMetrics makes p's instruments with mp (nil: the global
// MeterProvider). An instrument the provider refuses is reported to
// otel.Handle and left out: metrics never fail a pool.
func newPoolMetrics(mp metric.MeterProvider, p *Pool) *poolMetrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(MeterName)
	pm := &poolMetrics{pool: AttrPoolName.String(p.name)}
	pm.poolOpt = metric.WithAttributeSet(attribute.NewSet(pm.pool))
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	pm.startDur, err = meter.Float64Histogram(MetricWorkerStartDuration, metric.WithUnit("s"),
		metric.WithDescription("Time a pool's worker took from launch to serving."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	note(err)
	pm.queueWait, err = meter.Float64Histogram(MetricQueueWaitDuration, metric.WithUnit("s"),
		metric.WithDescription("Time a call waited in a pool's queue for a worker."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	note(err)
	pm.callDur, err = meter.Float64Histogram(MetricCallDuration, metric.WithUnit("s"),
		metric.WithDescription("Measures the duration of an outgoing Remote Procedure Call (RPC)."),
		metric.WithExplicitBucketBoundaries(callDurationBuckets...))
	note(err)

	workers, err := meter.Int64ObservableUpDownCounter(MetricWorkers, metric.WithUnit("{worker}"),
		metric.WithDescription("Workers of a pool by state."))
	note(err)
	restarts, err := meter.Int64ObservableCounter(MetricRestarts, metric.WithUnit("{restart}"),
		metric.WithDescription("Workers of a pool replaced, by reason."))
	note(err)
	inflight, err := meter.Int64ObservableUpDownCounter(MetricCallsInFlight, metric.WithUnit("{call}"),
		metric.WithDescription("Calls running on a pool's workers."))
	note(err)
	queued, err := meter.Int64ObservableUpDownCounter(MetricCallsQueued, metric.WithUnit("{call}"),
		metric.WithDescription("Calls waiting for a pool's worker."))
	note(err)
	calls, err := meter.Int64ObservableCounter(MetricCalls, metric.WithUnit("{call}"),
		metric.WithDescription("Finished calls on a pool by outcome."))
	note(err)
	retries, err := meter.Int64ObservableCounter(MetricCrashRetries, metric.WithUnit("{call}"),
		metric.WithDescription("Calls re-sent to another worker after theirs died."))
	note(err)

	pm.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := p.Stats()
		for _, st := range metricWorkerStates {
			o.ObserveInt64(workers, int64(s.Workers[st]), metric.WithAttributes(pm.pool, AttrWorkerState.String(st.String())))
		}
		for _, r := range metricRestartReasons {
			o.ObserveInt64(restarts, int64(s.Restarts[r]), metric.WithAttributes(pm.pool, AttrRestartReason.String(r)))
		}
		for r, n := range s.Restarts {
			if !isMetricRestartReason(r) {
				o.ObserveInt64(restarts, int64(n), metric.WithAttributes(pm.pool, AttrRestartReason.String(r)))
			}
		}
		o.ObserveInt64(inflight, int64(s.InFlight), pm.poolOpt)
		o.ObserveInt64(queued, int64(s.Queued), pm.poolOpt)
		for _, oc := range outcomes {
			o.ObserveInt64(calls, int64(s.Calls[oc]), metric.WithAttributes(pm.pool, AttrCallOutcome.String(oc)))
		}
		o.ObserveInt64(retries, int64(s.CrashRetries), pm.poolOpt)
		return nil
	}, workers, restarts, inflight, queued, calls, retries)
	note(err)
	if len(errs) > 0 {
		otel.Handle(fmt.Errorf("pool %q: metrics: %w", p.name, errors.Join(errs...)))
	}
	return pm
}

func isMetricRestartReason(r string) bool {
	for _, x := range metricRestartReasons {
		if x == r {
			return true
		}
	}
	return false
}

// unregister stops the callback: a closed pool reports nothing more.
func (pm *poolMetrics) unregister() {
	pm.unregistered.Do(func() {
		if pm.reg != nil {
			if err := pm.reg.Unregister(); err != nil {
				otel.Handle(err)
			}
		}
	})
}

// workerStarted records a worker's start-up time.
func (pm *poolMetrics) workerStarted(d time.Duration) {
	if pm.startDur != nil {
		pm.startDur.Record(context.Background(), d.Seconds(), pm.poolOpt)
	}
}

// queued records a call's wait in the queue.
func (pm *poolMetrics) queued(d time.Duration) {
	if pm.queueWait != nil {
		pm.queueWait.Record(context.Background(), d.Seconds(), pm.poolOpt)
	}
}

// call records a finished call of method with its outcome (an index into
// outcomes). ctx is the caller's: an SDK may take an exemplar's trace from
// it.
func (pm *poolMetrics) call(ctx context.Context, method string, outcome int, d time.Duration) {
	if pm.callDur == nil {
		return
	}
	k := callKey{method, outcome}
	opt, ok := pm.callAttrs.Load(k)
	if !ok {
		kv := []attribute.KeyValue{pm.pool, AttrRPCSystemName.String(RPCSystemName), AttrRPCMethod.String(method)}
		if outcome != 0 {
			kv = append(kv, AttrErrorType.String(outcomes[outcome]))
		}
		opt, _ = pm.callAttrs.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(kv...)))
	}
	pm.callDur.Record(ctx, d.Seconds(), opt.(metric.MeasurementOption))
}
