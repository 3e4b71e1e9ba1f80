package statushub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHandlerGaugesOverGET(t *testing.T) {
	tests := []struct {
		name     string
		gauges   GaugesFunc
		wantCode int
		wantBody string
	}{
		{
			name: "counts",
			gauges: func(context.Context) ([]Gauge, error) {
				return []Gauge{{"queue depth", 3}, {"in flight", 2}, {"dead letters", 1}}, nil
			},
			wantCode: http.StatusOK,
			wantBody: `{"gauges":[{"name":"queue depth","value":3},{"name":"in flight","value":2},{"name":"dead letters","value":1}]}`,
		},
		{
			name:     "source down",
			gauges:   func(context.Context) ([]Gauge, error) { return nil, errors.New("queue counts: no responders") },
			wantCode: http.StatusOK,
			wantBody: `{"gauges":[],"error":"queue counts: no responders"}`,
		},
		{name: "none configured", wantCode: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, err := NewHub(HubConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer hub.Close()
			h, err := NewEndpoint(hub, EndpointConfig{Gauges: tt.gauges})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status/ws?gauges", nil))
			if rec.Code != tt.wantCode {
				t.Fatalf("GET ?gauges status = %d, want %d", rec.Code, tt.wantCode)
			}
			if tt.wantBody == "" {
				return
			}
			if diff := cmp.Diff(tt.wantBody, strings.TrimSpace(rec.Body.String())); diff != "" {
				t.Errorf("GET ?gauges body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPageShowsGauges(t *testing.T) {
	rec := httptest.NewRecorder()
	PageHandler("ws").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	for _, want := range []string{`id="gauges"`, `searchParams.set("gauges"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page does not contain %s", want)
		}
	}
}
