package statushub

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
)

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page.html").Parse(pageHTML))

// PageHandler serves a self-contained HTML page (no external resources) that
// connects to the WebSocket endpoint at wsPath and shows a live table of jobs:
// job id, status badge, attempt, worker, error and time. wsPath is resolved
// against the page's own URL, so "/status/ws" and "ws" both work behind any
// host; the page switches http to ws and https to wss. It reconnects with
// backoff when the connection drops, and a reconnect brings a fresh
// snapshot.
//
// Each job's row carries data-job (the job ID) and data-status (its current
// Status) attributes, for scripts and browser tests.
func PageHandler(wsPath string) http.Handler {
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, struct{ WSPath string }{wsPath})
	page := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "status page: method "+r.Method+" not allowed; use GET", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy",
			"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self' ws: wss:")
		w.Write(page)
	})
}
