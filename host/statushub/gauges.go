package statushub

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Gauge is a named number the status page shows above the job table, such
// as a job queue's depth, the jobs in flight or the dead letters. The hub
// knows nothing of where it comes from: EndpointConfig.Gauges supplies it.
type Gauge struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

// GaugesFunc returns the current gauges. It is called once per request for
// them, with a context bounded by DefaultGaugesTimeout; an error is shown
// on the page in place of the gauges.
type GaugesFunc func(ctx context.Context) ([]Gauge, error)

// DefaultGaugesTimeout bounds one call of EndpointConfig.Gauges, so a slow
// source (a queue engine that is down) cannot pile up requests.
const DefaultGaugesTimeout = 2 * time.Second

// serveGauges answers GET <endpoint>?gauges: a JSON object
// {"gauges":[{"name":...,"value":...}]} or {"error":"..."}; 404 when the
// endpoint has no Gauges.
func (h *Endpoint) serveGauges(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Gauges == nil {
		http.Error(w, "status endpoint: no gauges configured", http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), DefaultGaugesTimeout)
	defer cancel()
	var body struct {
		Gauges []Gauge `json:"gauges"`
		Error  string  `json:"error,omitempty"`
	}
	gs, err := h.cfg.Gauges(ctx)
	body.Gauges = gs
	if body.Gauges == nil {
		body.Gauges = []Gauge{}
	}
	if err != nil {
		body.Error = err.Error()
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}
