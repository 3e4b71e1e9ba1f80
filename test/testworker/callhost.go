package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/isolated-workers/isolated-workers-go/plugin"
	"github.com/isolated-workers/isolated-workers-go/test/testproto"
)

// callHost calls the host as req says (testproto.HostReq).
func callHost(ctx context.Context, req testproto.HostReq) (string, error) {
	switch req.Op {
	case "add":
		n, err := plugin.CallHost(ctx, testproto.HostAdd, req.N)
		return strconv.Itoa(n), err
	case "fail":
		return plugin.CallHost(ctx, testproto.HostFail, req.N)
	case "unknown":
		return plugin.CallHost(ctx, testproto.HostUnknown, req.N)
	case "block":
		return plugin.CallHost(ctx, testproto.HostBlock, req.N)
	case "give-up":
		gctx, cancel := context.WithTimeout(ctx, time.Duration(req.N)*time.Millisecond)
		defer cancel()
		_, err := plugin.CallHost(gctx, testproto.HostBlock, req.N)
		return fmt.Sprintf("gave up: %v", err), nil
	case "no-handler-ctx":
		// Outside the handler's context: the connected host is called.
		n, err := plugin.CallHost(context.Background(), testproto.HostAdd, req.N)
		return strconv.Itoa(n), err
	}
	return "", fmt.Errorf("unknown op %q", req.Op)
}

// nest answers testproto.Nest.
func nest(ctx context.Context, n int) (string, error) {
	if n == 0 {
		return "w0", nil
	}
	r, err := plugin.CallHost(ctx, testproto.HostNest, n-1)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("w%d(%s)", n, r), nil
}
