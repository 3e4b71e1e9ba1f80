package statushub

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestPageHandler(t *testing.T) {
	tests := []struct {
		name     string
		wsPath   string
		wantMeta string
	}{
		{name: "absolute path", wsPath: "/status/ws", wantMeta: `<meta name="iw-status-ws" content="/status/ws">`},
		{name: "relative path", wsPath: "ws", wantMeta: `<meta name="iw-status-ws" content="ws">`},
		{name: "escaped", wsPath: `ws?a=1&b="<x>"`, wantMeta: `<meta name="iw-status-ws" content="ws?a=1&amp;b=&#34;&lt;x&gt;&#34;">`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			PageHandler(tt.wsPath).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET status = %d, want 200", rec.Code)
			}
			if got, want := rec.Header().Get("Content-Type"), "text/html; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			body := rec.Body.String()
			if !strings.Contains(body, tt.wantMeta) {
				t.Errorf("page does not contain %s", tt.wantMeta)
			}
		})
	}
}

// TestPageSelfContained checks that the page loads nothing from elsewhere.
func TestPageSelfContained(t *testing.T) {
	rec := httptest.NewRecorder()
	PageHandler("ws").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body, _ := io.ReadAll(rec.Body)
	external := regexp.MustCompile(`(?i:(src|href)\s*=|@import|https?://)|url\(`)
	if m := external.Find(body); m != nil {
		t.Errorf("page references an external resource: %q", m)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none'", csp)
	}
}

func TestPageHandlerMethods(t *testing.T) {
	tests := []struct {
		method string
		want   int
	}{
		{http.MethodGet, http.StatusOK},
		{http.MethodHead, http.StatusOK},
		{http.MethodPost, http.StatusMethodNotAllowed},
		{http.MethodDelete, http.StatusMethodNotAllowed},
	}
	h := PageHandler("ws")
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/", nil))
		if rec.Code != tt.want {
			t.Errorf("%s status = %d, want %d", tt.method, rec.Code, tt.want)
		}
	}
}
