package queue

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/isolated-workers/isolated-workers-go/queue/internal/natstest"
)

func TestMain(m *testing.M) {
	// The kill -9 tests run cluster nodes as processes: this test binary
	// again, in the node role (natstest.StartProcesses).
	natstest.RunNodeIfAsked()
	// They run host processes: this test binary again, in the
	// host role (see hosts_test.go).
	if os.Getenv(hostRoleEnv) != "" {
		os.Exit(runHostRole())
	}
	goleak.VerifyTestMain(m)
}
