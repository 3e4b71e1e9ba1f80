package peers

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/isolated-workers/isolated-workers-go/test/bench/internal/gpproto"
)

// gpClient is a go-plugin worker, over net/rpc or gRPC, started the way
// go-plugin's documentation shows: NewClient, Client, Dispense.
type gpClient struct {
	gpproto.Caller
	client *plugin.Client
	pid    int
}

func startNetRPC(ctx context.Context, bin string, _ Options) (Client, error) {
	return startGoPlugin(ctx, bin, plugin.ProtocolNetRPC, &gpproto.NetRPCPlugin{})
}

func startGRPC(ctx context.Context, bin string, _ Options) (Client, error) {
	return startGoPlugin(ctx, bin, plugin.ProtocolGRPC, &gpproto.GRPCPlugin{})
}

func startGoPlugin(ctx context.Context, bin string, proto plugin.Protocol, p plugin.Plugin) (Client, error) {
	cmd := exec.Command(bin)
	dieWithParent(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  gpproto.Handshake,
		Plugins:          plugin.PluginSet{gpproto.PluginName: p},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{proto},
		// Error, not Warn: go-plugin's net/rpc Kill warns on every close
		// ("error closing client during Kill: unexpected EOF", then "plugin
		// failed to exit gracefully") because the worker exits before it
		// answers the Quit call.
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Error, Output: os.Stderr}),
	})
	type started struct {
		c   gpproto.Caller
		err error
	}
	ch := make(chan started, 1)
	go func() {
		rpc, err := client.Client()
		if err != nil {
			ch <- started{err: err}
			return
		}
		raw, err := rpc.Dispense(gpproto.PluginName)
		if err != nil {
			ch <- started{err: err}
			return
		}
		c, ok := raw.(gpproto.Caller)
		if !ok {
			err = fmt.Errorf("dispensed a %T, want a gpproto.Caller", raw)
		}
		ch <- started{c: c, err: err}
	}()
	var s started
	select {
	case s = <-ch:
	case <-ctx.Done():
		client.Kill()
		s = <-ch
		if s.err == nil {
			s.err = ctx.Err()
		}
	}
	if cmd.Process != nil {
		track(cmd.Process.Pid)
	}
	if s.err != nil {
		client.Kill()
		if cmd.Process != nil {
			untrack(cmd.Process.Pid)
		}
		return nil, s.err
	}
	return &gpClient{Caller: s.c, client: client, pid: cmd.Process.Pid}, nil
}

func (c *gpClient) PID() int { return c.pid }

// Close is go-plugin's Kill: close the connection, wait up to 2 s for the
// worker to exit, then kill it.
func (c *gpClient) Close() error {
	c.client.Kill()
	untrack(c.pid)
	return nil
}
