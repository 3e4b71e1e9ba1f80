// Package browser drives headless Chromium for the tests that look at the
// status page as a person would: it opens a page and waits, inside the
// browser, until a condition on the page's DOM holds. It speaks just enough of
// the Chrome DevTools Protocol (over a WebSocket, with coder/websocket) to
// navigate and evaluate JavaScript. It is test support: nothing users import.
//
// Chromium is never installed from here: `make test` runs
// scripts/ensure-chromium.sh first and sets IW_BROWSER_TESTS=1, and with that
// variable set a test that cannot find Chromium fails instead of skipping
// (see Require).
package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Environment variables read by Require.
const (
	// RequireEnv set to 1 makes a browser test fail, not skip, when Chromium
	// cannot be found. `make test` sets it.
	RequireEnv = "IW_BROWSER_TESTS"

	// ReportEnv names a file to which every browser test appends one line
	// saying that it ran and how it ended; `make test` prints it.
	ReportEnv = "IW_BROWSER_REPORT"
)

// Bounds on the browser, named once.
const (
	// StartTimeout bounds how long Chromium may take to start and open its
	// DevTools endpoint.
	StartTimeout = 60 * time.Second

	// DefaultWait bounds WaitFor when its context has no deadline.
	DefaultWait = 30 * time.Second

	// diagnosticsTime is kept back from WaitFor's context deadline to read
	// the page's DOM for the error message.
	diagnosticsTime = 2 * time.Second
)

// ErrNoBrowser: no Chromium binary was found on PATH.
var ErrNoBrowser = errors.New("no chromium found on PATH (chromium, chromium-browser, google-chrome); install it with scripts/ensure-chromium.sh (as root: apt-get install chromium)")

// Find returns the path of a Chromium binary on PATH, or ErrNoBrowser. It
// installs nothing.
func Find() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Require returns the path of Chromium for a browser test. Without Chromium
// the test fails if IW_BROWSER_TESTS=1 (as under `make test`) and is skipped
// otherwise; in -short mode it is skipped unless IW_BROWSER_TESTS=1. If
// IW_BROWSER_REPORT names a file, a line saying that the test ran and whether
// it passed is appended to it when the test ends.
func Require(t testing.TB) string {
	t.Helper()
	required := os.Getenv(RequireEnv) == "1"
	if testing.Short() && !required {
		t.Skipf("browser test skipped in -short mode (set %s=1 to run it)", RequireEnv)
	}
	path, err := Find()
	if err != nil {
		if required {
			t.Fatalf("%s=1 but the browser test cannot run: %v", RequireEnv, err)
		}
		t.Skipf("%v; set %s=1 to make this a failure", err, RequireEnv)
	}
	if report := os.Getenv(ReportEnv); report != "" {
		t.Cleanup(func() {
			result := "passed"
			if t.Failed() {
				result = "FAILED"
			}
			f, err := os.OpenFile(report, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				t.Errorf("browser test report %s: %v", report, err)
				return
			}
			defer f.Close()
			fmt.Fprintf(f, "%s: ran in %s, %s\n", t.Name(), path, result)
		})
	}
	return path
}

// Page is one headless Chromium process showing one page. Its methods are
// not safe for concurrent use.
type Page struct {
	cmd     *exec.Cmd
	profile string
	stderr  *os.File // read end of Chromium's stderr
	logDone chan struct{}
	log     *tail

	conn    *websocket.Conn
	session string
	nextID  int64
	seen    map[string]bool // events of the page session read while waiting for a response

	closeOnce sync.Once
}

var listening = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Open starts headless Chromium (the binary at chromium) with a new empty
// profile and loads url. It returns once the page's load event has fired.
// Close the page to end Chromium and remove its profile.
func Open(ctx context.Context, chromium, url string) (_ *Page, err error) {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()

	profile, err := os.MkdirTemp("", "iw-chromium-")
	if err != nil {
		return nil, fmt.Errorf("chromium profile: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("chromium stderr pipe: %w", err)
	}
	// The flags that work on machines without a display or network; see
	// the machine notes. The debugging port is chosen by Chromium and read
	// from its stderr.
	cmd := exec.Command(chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "about:blank")
	cmd.Stderr = w
	setGroup(cmd) // Close ends the whole tree
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		os.RemoveAll(profile)
		return nil, fmt.Errorf("start %s: %w", chromium, err)
	}
	w.Close()

	p := &Page{cmd: cmd, profile: profile, stderr: r, logDone: make(chan struct{}), log: &tail{max: 4096}, seen: make(map[string]bool)}
	endpoint := make(chan string, 1)
	go p.readLog(endpoint)
	defer func() {
		if err != nil {
			p.Close()
		}
	}()

	var wsURL string
	select {
	case wsURL = <-endpoint:
	case <-p.logDone:
		return nil, fmt.Errorf("chromium exited before opening its DevTools endpoint; stderr: %s", p.log)
	case <-ctx.Done():
		return nil, fmt.Errorf("chromium did not open its DevTools endpoint: %w; stderr: %s", ctx.Err(), p.log)
	}
	p.conn, _, err = websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial chromium DevTools %s: %w", wsURL, err)
	}
	p.conn.SetReadLimit(64 << 20)

	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := p.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := p.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	p.session = attached.SessionID
	if err := p.call(ctx, p.session, "Page.enable", nil, nil); err != nil {
		return nil, err
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, fmt.Errorf("chromium: navigate to %s: %s", url, nav.ErrorText)
	}
	if err := p.waitEvent(ctx, "Page.loadEventFired"); err != nil {
		return nil, fmt.Errorf("chromium: load %s: %w", url, err)
	}
	return p, nil
}

// WaitFor waits until the JavaScript expression cond is true on the page,
// re-evaluating it inside the browser after every change of the DOM (a
// MutationObserver; no polling). It gives up at ctx's deadline (DefaultWait
// without one) and then returns an error naming what and showing the page's
// body.
func (p *Page) WaitFor(ctx context.Context, what, cond string) error {
	bound := DefaultWait
	if d, ok := ctx.Deadline(); ok {
		bound = time.Until(d) - diagnosticsTime
	}
	if bound <= 0 {
		return fmt.Errorf("wait for %s on the page: no time left", what)
	}
	// The promise resolves true when cond holds, or false at the bound, so
	// that the page is still there to be read for the error message.
	expr := fmt.Sprintf(`new Promise(function (resolve) {
  var cond = function () { try { return !!(%s); } catch (e) { return false; } };
  if (cond()) { resolve(true); return; }
  var obs = new MutationObserver(function () {
    if (cond()) { obs.disconnect(); clearTimeout(timer); resolve(true); }
  });
  var timer = setTimeout(function () { obs.disconnect(); resolve(cond()); }, %d);
  obs.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})`, cond, bound.Milliseconds())
	var ok bool
	if err := p.Eval(ctx, expr, &ok); err != nil {
		return fmt.Errorf("wait for %s on the page: %w", what, err)
	}
	if ok {
		return nil
	}
	var body string
	if err := p.Eval(ctx, "document.body ? document.body.outerHTML : document.documentElement.outerHTML", &body); err != nil {
		body = "(could not read the page: " + err.Error() + ")"
	}
	return fmt.Errorf("page did not show %s within %v (condition %s); the page's body:\n%s", what, bound.Round(time.Millisecond), cond, body)
}

// Eval evaluates the JavaScript expression expr on the page, awaiting it if
// it is a promise, and decodes its value into out (which may be nil).
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.call(ctx, p.session, "Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true,
	}, &res)
	if err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		return fmt.Errorf("chromium: evaluate: %s %s", e.Text, e.Exception.Description)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		return fmt.Errorf("chromium: evaluate: result %s (%s): %w", res.Result.Value, res.Result.Type, err)
	}
	return nil
}

// Close ends Chromium and every process it started, and removes its profile.
// It is idempotent.
func (p *Page) Close() error {
	p.closeOnce.Do(func() {
		if p.conn != nil {
			p.conn.CloseNow()
		}
		killTree(p.cmd)
		p.cmd.Wait()
		// A child that left the process group may still hold the pipe's
		// write end: closing the read end ends readLog regardless.
		p.stderr.Close()
		<-p.logDone
		os.RemoveAll(p.profile)
	})
	return nil
}

// readLog copies Chromium's stderr into p.log and sends the DevTools URL on
// endpoint when it appears.
func (p *Page) readLog(endpoint chan<- string) {
	defer close(p.logDone)
	sc := bufio.NewScanner(p.stderr)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		p.log.add(line)
		if m := listening.FindStringSubmatch(line); m != nil && !sent {
			endpoint <- m[1]
			sent = true
		}
	}
}

// message is one DevTools Protocol message: a command, its response, or an
// event.
type message struct {
	ID        int64           `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    any             `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// call sends one command and waits for its response, skipping events.
func (p *Page) call(ctx context.Context, session, method string, params, out any) error {
	p.nextID++
	id := p.nextID
	req, err := json.Marshal(message{ID: id, SessionID: session, Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("chromium: encode %s: %w", method, err)
	}
	if err := p.conn.Write(ctx, websocket.MessageText, req); err != nil {
		return fmt.Errorf("chromium: send %s: %w", method, err)
	}
	for {
		m, err := p.read(ctx)
		if err != nil {
			return fmt.Errorf("chromium: %s: %w", method, err)
		}
		if m.ID != id {
			if m.ID == 0 && m.SessionID != "" && m.SessionID == p.session {
				p.seen[m.Method] = true
			}
			continue
		}
		if m.Error != nil {
			return fmt.Errorf("chromium: %s: %s (code %d)", method, m.Error.Message, m.Error.Code)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(m.Result, out); err != nil {
			return fmt.Errorf("chromium: %s: decode result: %w", method, err)
		}
		return nil
	}
}

// waitEvent waits for the page session's event named method.
func (p *Page) waitEvent(ctx context.Context, method string) error {
	if p.seen[method] {
		delete(p.seen, method)
		return nil
	}
	for {
		m, err := p.read(ctx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", method, err)
		}
		if m.ID == 0 && m.Method == method && m.SessionID == p.session {
			return nil
		}
	}
}

func (p *Page) read(ctx context.Context) (message, error) {
	_, b, err := p.conn.Read(ctx)
	if err != nil {
		return message{}, fmt.Errorf("read DevTools message: %w; chromium stderr: %s", err, p.log)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return message{}, fmt.Errorf("decode DevTools message %.200s: %w", b, err)
	}
	return m, nil
}

// tail keeps the last max bytes of Chromium's stderr for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	b   []string
	n   int
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, line)
	t.n += len(line) + 1
	for t.n > t.max && len(t.b) > 1 {
		t.n -= len(t.b[0]) + 1
		t.b = t.b[1:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.b, "\n")
}
