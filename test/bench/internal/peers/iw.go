package peers

import (
	"context"
	"os"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/isolated-workers/isolated-workers-go/host"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/iwproto"
)

// iwClient is a worker of this project, started with host.Start and the
// library's defaults (JSON serializer, UUID transaction ids, no timeout).
type iwClient struct {
	w *host.Worker
}

func startIW(ctx context.Context, bin string, opt Options) (Client, error) {
	cmd := exec.Command(bin)
	dieWithParent(cmd)
	if opt.WorkerCPUProfile != "" || opt.WorkerTrace != "" {
		cmd.Env = append(os.Environ(), iwproto.CPUProfileEnv+"="+opt.WorkerCPUProfile, iwproto.TraceEnv+"="+opt.WorkerTrace)
	}
	w, err := host.Start(ctx, host.Config{
		Cmd:       cmd,
		Handshake: iwproto.Handshake,
		Name:      "iw-bench",
		Logger:    hclog.New(&hclog.LoggerOptions{Name: "iw", Level: hclog.Warn, Output: os.Stderr}),
	})
	if err != nil {
		return nil, err
	}
	track(w.PID())
	return &iwClient{w: w}, nil
}

func (c *iwClient) Ping(ctx context.Context, b []byte) ([]byte, error) {
	return host.Call(ctx, c.w, iwproto.Ping, b)
}

func (c *iwClient) PingStruct(ctx context.Context, s string) (string, error) {
	r, err := host.Call(ctx, c.w, iwproto.PingStruct, iwproto.Text{Msg: s})
	return r.Msg, err
}

func (c *iwClient) Echo(ctx context.Context, b []byte) ([]byte, error) {
	return host.Call(ctx, c.w, iwproto.Echo, b)
}

func (c *iwClient) PID() int { return c.w.PID() }

func (c *iwClient) Close() error {
	err := c.w.Close()
	untrack(c.w.PID())
	return err
}

// IWCommand returns a new command for the iw worker binary in w (killed
// with the harness), for the pool workloads, which start their workers
// through host.Pool.
func (w *Workers) IWCommand() *exec.Cmd {
	cmd := exec.Command(w.Path("iw"))
	dieWithParent(cmd)
	return cmd
}
