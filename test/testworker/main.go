// Command testworker is the worker the end-to-end tests launch. Flags pick
// its configuration so one binary covers every lifecycle and mismatch case.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

func main() {
	var (
		serializer  = flag.String("serializer", "json", "json, msgpack or fake-json (a different serializer named json)")
		versions    = flag.String("versions", "", "protocol versions, e.g. 1,2")
		keepAlive   = flag.Bool("keepalive", false, "keep-alive disconnect behavior")
		hostTimeout = flag.Duration("host-connect-timeout", -1, "HostConnectTimeout (-1: default)")
		exitAtStart = flag.Int("exit-at-start", -1, "exit with this status before the handshake")
		hangAtStart = flag.Bool("hang-at-start", false, "never become ready")
		stdoutSpam  = flag.Int("stdout-lines", 3, "lines to print on stdout at start-up")
		logLevel    = flag.String("log-level", "", "worker LogLevel")
		ignoreTerm  = flag.Bool("ignore-term", false, "ignore SIGTERM")
		middleware  = flag.String("mw", "", "worker middleware: tag, fail-incoming or fail-outgoing")
		maxFrame    = flag.Int("max-frame", 0, "MaxFrameSize (0: default)")
		maxRaw      = flag.Int("max-raw", 0, "MaxRawSize (0: default)")
		stopGrace   = flag.Duration("stop-grace", 0, "StopGrace (0: default)")
		stderrFile  = flag.String("stderr-file", "", "append what the worker writes to os.Stderr to this file")
		logBuffer   = flag.Int("log-buffer", 0, "LogBuffer (0: default)")
		logWait     = flag.Duration("log-wait", 0, "LogWait (0: default)")
		stderrText  = flag.String("stderr-text", "", "text to write to stderr at start-up, e.g. an hclog JSON record and a plain line")
	)
	flag.Parse()
	if *stderrFile != "" {
		f, err := os.OpenFile(*stderrFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testworker:", err)
			os.Exit(2)
		}
		os.Stderr = f
	}
	if *stderrText != "" {
		fmt.Fprintln(os.Stderr, *stderrText)
	}
	for i := range *stdoutSpam {
		fmt.Printf("testworker stdout line %d: not a handshake\n", i)
	}
	if *exitAtStart >= 0 {
		fmt.Fprintf(os.Stderr, "testworker: failing at start-up with status %d\n", *exitAtStart)
		os.Exit(*exitAtStart)
	}
	if *hangAtStart {
		time.Sleep(time.Hour)
	}
	if *ignoreTerm {
		signalIgnore()
	}
	cfg := plugin.Config{
		Handshake: testproto.Handshake,
		Handlers:  handlers(),
		LogLevel:  hclog.LevelFromString(*logLevel),

		MaxFrameSize: *maxFrame,
		MaxRawSize:   *maxRaw,
		LogBuffer:    *logBuffer,
		LogWait:      *logWait,
	}
	switch *serializer {
	case "msgpack":
		cfg.Serializer = shared.MsgPack{}
	case "fake-json":
		cfg.Serializer = shared.NewSerializer("json", "\n", shared.JSON{}.Marshal, shared.JSON{}.Unmarshal)
	}
	if *versions != "" {
		for _, v := range strings.Split(*versions, ",") {
			n, _ := strconv.Atoi(v)
			cfg.Handshake.ProtocolVersions = append([]int(nil), cfg.Handshake.ProtocolVersions...)
			cfg.VersionedHandlers = mergeVersion(cfg.VersionedHandlers, n)
		}
		cfg.Handshake.ProtocolVersions = nil
	}
	cfg.Middleware = workerMiddleware(*middleware)
	cfg.StopGrace = *stopGrace
	if *keepAlive {
		cfg.DisconnectBehavior = plugin.KeepAlive
	}
	if *hostTimeout >= 0 {
		cfg.HostConnectTimeout = shared.Duration(*hostTimeout)
	}
	if path := os.Getenv("IW_TEST_CPUPROFILE"); path != "" {
		os.Exit(serveProfiled(cfg, path))
	}
	plugin.Serve(cfg)
}

func mergeVersion(m map[int]plugin.HandlerSet, v int) map[int]plugin.HandlerSet {
	if m == nil {
		m = map[int]plugin.HandlerSet{}
	}
	m[v] = handlers()
	return m
}

func handlers() plugin.HandlerSet {
	return plugin.Handlers(
		plugin.Handle(testproto.Ping, func(ctx context.Context, s string) (string, error) { return "pong:" + s, nil }),
		plugin.Handle(testproto.CallHost, callHost),
		plugin.Handle(testproto.Nest, nest),
		plugin.Handle(testproto.EchoItem, func(ctx context.Context, it testproto.Item) (testproto.Item, error) { return it, nil }),
		plugin.Handle(testproto.Echo, func(ctx context.Context, b []byte) ([]byte, error) { return b, nil }),
		plugin.Handle(testproto.Big, func(ctx context.Context, n int) (string, error) { return strings.Repeat("b", n), nil }),
		plugin.Handle(testproto.Sleep, func(ctx context.Context, ms int) (string, error) {
			plugin.Emit(ctx, testproto.Started, plugin.TxID(ctx))
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
				return "slept", nil
			case <-ctx.Done():
				plugin.Emit(ctx, testproto.Cancelled, plugin.TxID(ctx))
				plugin.Emit(ctx, testproto.SleepEnded, ctx.Err().Error())
				plugin.Logger(ctx).Info("sleep cancelled", "txid", plugin.TxID(ctx))
				return "", ctx.Err()
			}
		}),
		plugin.Handle(testproto.SleepStuck, func(ctx context.Context, ms int) (string, error) {
			plugin.Emit(ctx, testproto.Started, plugin.TxID(ctx))
			time.Sleep(time.Duration(ms) * time.Millisecond)
			return "slept", nil
		}),
		plugin.Handle(testproto.Fail, func(ctx context.Context, r testproto.FailReq) (string, error) {
			err := errors.New(r.Message)
			if r.Class != "" {
				c, _ := faults.ParseClass(r.Class)
				err = faults.New(c, err)
			}
			if r.Code != "" {
				err = faults.WithCode(err, r.Code)
			}
			if r.RetryAfter > 0 {
				err = faults.WithRetryAfter(err, time.Duration(r.RetryAfter)*time.Millisecond)
			}
			return "", err
		}),
		plugin.Handle(testproto.Crash, func(ctx context.Context, code int) (string, error) {
			fmt.Fprintln(os.Stderr, "testworker: crashing on purpose")
			os.Exit(code)
			return "", nil
		}),
		plugin.Handle(testproto.Kill, func(ctx context.Context, _ string) (string, error) {
			self, _ := os.FindProcess(os.Getpid())
			self.Kill() // SIGKILL; TerminateProcess on Windows
			time.Sleep(time.Second)
			return "", nil
		}),
		plugin.Handle(testproto.Panic, func(ctx context.Context, s string) (string, error) { panic(s) }),
		plugin.Handle(testproto.Log, func(ctx context.Context, r testproto.LogReq) (string, error) {
			plugin.Logger(ctx).Log(hclog.LevelFromString(r.Level), r.Message, r.Key, r.Value)
			return "logged", nil
		}),
		plugin.Handle(testproto.Stderr, func(ctx context.Context, n int) (string, error) {
			line := []byte(strings.Repeat("x", n-1) + "E\n")
			os.Stderr.Write(line)
			return "written", nil
		}),
		plugin.Handle(testproto.Headers, func(ctx context.Context, _ string) (map[string]string, error) {
			return shared.HeadersFrom(ctx), nil
		}),
		plugin.Handle(testproto.Deadline, func(ctx context.Context, _ string) (int64, error) {
			d, ok := ctx.Deadline()
			if !ok {
				return -1, nil
			}
			return time.Until(d).Milliseconds(), nil
		}),
		plugin.Handle(testproto.Emit, func(ctx context.Context, n int) (string, error) {
			for i := range n {
				if err := plugin.Emit(ctx, testproto.Tick, i); err != nil {
					return "", err
				}
			}
			return "emitted", nil
		}),
		plugin.Handle(testproto.Version, func(ctx context.Context, _ string) (int, error) { return plugin.ProtocolVersion(ctx), nil }),
		plugin.Handle(testproto.DropConn, func(ctx context.Context, _ string) (string, error) {
			go func() {
				time.Sleep(20 * time.Millisecond) // let the reply leave first
				dropHostSockets()
			}()
			return "dropping", nil
		}),
		plugin.Handle(testproto.Pid, func(ctx context.Context, _ string) (int, error) { return os.Getpid(), nil }),
		plugin.Handle(testproto.Hold, hold),
		plugin.Handle(testproto.SpawnHelper, func(ctx context.Context, _ string) (int, error) { return spawnHelper() }),
		plugin.Handle(testproto.Stuck, func(ctx context.Context, _ string) (string, error) {
			pid, err := spawnHelper()
			if err != nil {
				return "", err
			}
			if err := plugin.Emit(ctx, testproto.HelperStarted, pid); err != nil {
				return "", err
			}
			select {} // ignores ctx: only the worker's exit ends it
		}),
		plugin.Handle(testproto.ChildEnv, func(ctx context.Context, _ string) ([]string, error) {
			out, err := exec.Command("env").Output()
			if err != nil {
				return nil, err
			}
			var found []string
			for _, kv := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(kv, "ISOLATED_WORKERS_") || strings.HasPrefix(kv, testproto.Handshake.MagicCookieKey+"=") {
					found = append(found, kv)
				}
			}
			return found, nil
		}),
		plugin.Handle(testproto.LogMany, func(ctx context.Context, n int) (shared.Dropped, error) {
			log := plugin.Logger(ctx)
			for i := range n {
				log.Warn("flood", "i", i)
			}
			return plugin.Dropped(ctx), nil
		}),
		plugin.Handle(testproto.EmitOnCancel, func(ctx context.Context, n int) (string, error) {
			if err := plugin.Emit(ctx, testproto.Tick, -1); err != nil { // "started"
				return "", err
			}
			<-ctx.Done()
			for i := range n {
				if err := plugin.Emit(ctx, testproto.Tick, i); err != nil {
					fmt.Fprintf(os.Stderr, "testworker: emit-on-cancel: %v\n", err)
				}
			}
			fmt.Fprintln(os.Stderr, testproto.EmitOnCancelDone)
			return "emitted", nil
		}),
	)
}

// spawnHelper starts a long sleep that inherits the worker's stdout and
// stderr and stays in its process group, and returns its pid.
func spawnHelper() (int, error) {
	cmd := exec.Command("sleep", "1000")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go cmd.Wait() // reap it when the worker's group is taken down
	return cmd.Process.Pid, nil
}
