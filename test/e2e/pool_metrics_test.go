package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// poolMetrics collects rm once and indexes its data points by instrument
// name and attribute set.
type poolMetrics struct {
	t    *testing.T
	sums map[string]map[attribute.Distinct]metricdata.DataPoint[int64]
	hist map[string]map[attribute.Distinct]metricdata.HistogramDataPoint[float64]
	all  map[string]metricdata.Metrics
}

func collectPoolMetrics(t *testing.T, r *sdkmetric.ManualReader) *poolMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	pm := &poolMetrics{t: t, sums: map[string]map[attribute.Distinct]metricdata.DataPoint[int64]{},
		hist: map[string]map[attribute.Distinct]metricdata.HistogramDataPoint[float64]{}, all: map[string]metricdata.Metrics{}}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != host.MeterName {
			t.Errorf("scope %q, want only %q", sm.Scope.Name, host.MeterName)
		}
		for _, m := range sm.Metrics {
			pm.all[m.Name] = m
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				pm.sums[m.Name] = map[attribute.Distinct]metricdata.DataPoint[int64]{}
				for _, dp := range d.DataPoints {
					pm.sums[m.Name][dp.Attributes.Equivalent()] = dp
				}
			case metricdata.Histogram[float64]:
				pm.hist[m.Name] = map[attribute.Distinct]metricdata.HistogramDataPoint[float64]{}
				for _, dp := range d.DataPoints {
					pm.hist[m.Name][dp.Attributes.Equivalent()] = dp
				}
			default:
				t.Errorf("metric %s has data %T, want an int64 sum or a float64 histogram", m.Name, m.Data)
			}
		}
	}
	return pm
}

var poolAttr = host.AttrPoolName.String("pw")

func attrs(kv ...attribute.KeyValue) attribute.Distinct {
	s := attribute.NewSet(append([]attribute.KeyValue{poolAttr}, kv...)...)
	return s.Equivalent()
}

// sum returns the value of the int64 sum name at kv (plus the pool name).
func (pm *poolMetrics) sum(name string, kv ...attribute.KeyValue) int64 {
	pm.t.Helper()
	dp, ok := pm.sums[name][attrs(kv...)]
	if !ok {
		pm.t.Errorf("metric %s%v: no data point", name, kv)
	}
	return dp.Value
}

// count returns the count of the histogram name at kv (plus the pool name).
func (pm *poolMetrics) count(name string, kv ...attribute.KeyValue) uint64 {
	pm.t.Helper()
	dp, ok := pm.hist[name][attrs(kv...)]
	if !ok {
		pm.t.Errorf("metric %s%v: no data point", name, kv)
		return 0
	}
	if dp.Count > 0 && dp.Sum <= 0 {
		pm.t.Errorf("metric %s%v: %d measurements summing to %v, want a positive sum", name, kv, dp.Count, dp.Sum)
	}
	return dp.Count
}

// TestPoolMetrics runs a known scenario on a pool with an SDK MeterProvider
// and a ManualReader, and checks every instrument: workers by state, calls
// in flight and queued while two calls run and one waits, calls by outcome
// (ok, error, crash, canceled), restarts by reason, crash retries, and the
// worker start, queue wait and call duration histograms (the call duration
// with the RPC conventions' attributes). The observed counters must equal
// Stats(), which they are read from.
func TestPoolMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })

	cfg, ev := poolConfig(t, 2)
	cfg.MeterProvider = mp
	cfg.MaxInFlight = 1
	started := make(chan string, 4)
	cfg.Worker.OnEvent = func(e host.ReceivedEvent) {
		if v, ok, _ := host.DecodeEvent(e, testproto.Started); ok {
			started <- v
		}
	}
	p := startPool(t, cfg)
	ctx := ctxT(t)

	m := collectPoolMetrics(t, reader)
	if got := m.sum(host.MetricWorkers, host.AttrWorkerState.String("ready")); got != 2 {
		t.Errorf("%s{ready} at start = %d, want 2", host.MetricWorkers, got)
	}
	if got := m.count(host.MetricWorkerStartDuration); got != 2 {
		t.Errorf("%s count at start = %d, want 2", host.MetricWorkerStartDuration, got)
	}

	// 3 calls succeed, 1 fails in its handler.
	for i := range 3 {
		if _, err := host.Call(ctx, p, testproto.Ping, "x"); err != nil {
			t.Fatalf("Call(Ping) #%d: %v", i, err)
		}
	}
	if _, err := host.Call(ctx, p, testproto.Fail, testproto.FailReq{Message: "no stock", Class: "business"}); err == nil {
		t.Fatal("Call(Fail) succeeded")
	}

	// Both workers busy (MaxInFlight 1): a third call queues.
	sleepCtx, stopSleep := context.WithCancel(ctx)
	defer stopSleep()
	sleeping := make(chan error, 2)
	for range 2 {
		go func() { _, err := host.Call(sleepCtx, p, testproto.Sleep, 60_000); sleeping <- err }()
		<-started
	}
	queued := make(chan error, 1)
	go func() { _, err := host.Call(ctx, p, testproto.Pid, ""); queued <- err }()
	eventually(t, "a queued call", func() bool { return p.Stats().Queued == 1 })
	m = collectPoolMetrics(t, reader)
	if got := m.sum(host.MetricCallsInFlight); got != 2 {
		t.Errorf("%s with 2 calls running = %d, want 2", host.MetricCallsInFlight, got)
	}
	if got := m.sum(host.MetricCallsQueued); got != 1 {
		t.Errorf("%s with 1 call waiting = %d, want 1", host.MetricCallsQueued, got)
	}
	stopSleep()
	if err := <-queued; err != nil {
		t.Fatalf("queued Call(Pid) = %v", err)
	}
	for range 2 {
		if err := <-sleeping; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Call(Sleep) = %v, want context.Canceled", err)
		}
	}

	// A crash (Reject), then a crash retried once that kills the second
	// worker too: 3 crash restarts, 1 crash retry.
	if _, err := host.Call(ctx, p, testproto.Kill, ""); err == nil {
		t.Fatal("Call(Kill) succeeded")
	}
	ev.wait(t, "the first replacement", func(e host.PoolEvent) bool {
		return e.Kind == host.EventWorkerStarted && e.Reason == host.ReasonCrash
	})
	if _, err := host.Call(ctx, p, testproto.Kill.WithCrashRetry(1), ""); err == nil {
		t.Fatal("Call(Kill.WithCrashRetry(1)) succeeded")
	}
	eventually(t, "3 replacements serving", func() bool {
		return ev.count(func(e host.PoolEvent) bool {
			return e.Kind == host.EventWorkerStarted && e.Reason == host.ReasonCrash
		}) == 3 && p.Stats().Workers[host.WorkerReady] == 2
	})

	m = collectPoolMetrics(t, reader)
	s := p.Stats()
	outcome := host.AttrCallOutcome.String
	gotCalls := map[string]int64{}
	for _, oc := range []string{host.OutcomeOK, host.OutcomeError, host.OutcomeCrash, host.OutcomeCanceled, host.OutcomeQueueFull, host.OutcomeDeadline} {
		gotCalls[oc] = m.sum(host.MetricCalls, outcome(oc))
	}
	wantCalls := map[string]int64{host.OutcomeOK: 4, host.OutcomeError: 1, host.OutcomeCrash: 2, host.OutcomeCanceled: 2, host.OutcomeQueueFull: 0, host.OutcomeDeadline: 0}
	if diff := cmp.Diff(wantCalls, gotCalls); diff != "" {
		t.Errorf("%s by outcome (-want +got):\n%s", host.MetricCalls, diff)
	}
	for oc, n := range s.Calls {
		if got := m.sum(host.MetricCalls, outcome(oc)); got != int64(n) {
			t.Errorf("%s{%s} = %d, Stats().Calls = %d: want them equal", host.MetricCalls, oc, got, n)
		}
	}
	if got := m.sum(host.MetricRestarts, host.AttrRestartReason.String(host.ReasonCrash)); got != 3 {
		t.Errorf("%s{crash} = %d, want 3", host.MetricRestarts, got)
	}
	if got := m.sum(host.MetricRestarts, host.AttrRestartReason.String(host.ReasonUnhealthy)); got != 0 {
		t.Errorf("%s{unhealthy} = %d, want 0", host.MetricRestarts, got)
	}
	if got := m.sum(host.MetricCrashRetries); got != 1 {
		t.Errorf("%s = %d, want 1", host.MetricCrashRetries, got)
	}
	for st, want := range map[string]int64{"ready": 2, "starting": 0, "spare": 0, "draining": 0} {
		if got := m.sum(host.MetricWorkers, host.AttrWorkerState.String(st)); got != want {
			t.Errorf("%s{%s} = %d, want %d", host.MetricWorkers, st, got, want)
		}
	}
	if got := m.sum(host.MetricCallsInFlight); got != 0 {
		t.Errorf("%s when idle = %d, want 0", host.MetricCallsInFlight, got)
	}
	if got := m.count(host.MetricWorkerStartDuration); got != 5 {
		t.Errorf("%s count = %d, want 5 (2 initial, 3 replacements)", host.MetricWorkerStartDuration, got)
	}
	if got := m.count(host.MetricQueueWaitDuration); got != s.QueueWaits || got < 1 {
		t.Errorf("%s count = %d, want Stats().QueueWaits = %d, at least 1", host.MetricQueueWaitDuration, got, s.QueueWaits)
	}

	// The call duration: one series per method and outcome, the RPC
	// conventions' attributes, error.type only on failures.
	rpc := func(method, errType string) []attribute.KeyValue {
		kv := []attribute.KeyValue{host.AttrRPCSystemName.String("isolated-workers"), host.AttrRPCMethod.String(method)}
		if errType != "" {
			kv = append(kv, host.AttrErrorType.String(errType))
		}
		return kv
	}
	wantDur := map[string]uint64{"ping ok": 3, "fail error": 1, "sleep canceled": 2, "pid ok": 1, "kill-self crash": 2}
	gotDur := map[string]uint64{}
	for k := range wantDur {
		method, oc, _ := strings.Cut(k, " ")
		if oc == host.OutcomeOK {
			oc = ""
		}
		gotDur[k] = m.count(host.MetricCallDuration, rpc(method, oc)...)
	}
	if diff := cmp.Diff(wantDur, gotDur); diff != "" {
		t.Errorf("%s counts by method and outcome (-want +got):\n%s", host.MetricCallDuration, diff)
	}
	if n := len(m.hist[host.MetricCallDuration]); n != len(wantDur) {
		t.Errorf("%s has %d series, want %d", host.MetricCallDuration, n, len(wantDur))
	}
	for name, wantUnit := range map[string]string{
		host.MetricCallDuration: "s", host.MetricQueueWaitDuration: "s", host.MetricWorkerStartDuration: "s",
		host.MetricWorkers: "{worker}", host.MetricRestarts: "{restart}", host.MetricCalls: "{call}",
		host.MetricCallsInFlight: "{call}", host.MetricCallsQueued: "{call}", host.MetricCrashRetries: "{call}",
	} {
		if got := m.all[name].Unit; got != wantUnit {
			t.Errorf("metric %s unit = %q, want %q", name, got, wantUnit)
		}
	}
	if len(m.all) != 9 {
		t.Errorf("got %d instruments, want 9", len(m.all))
	}
}
