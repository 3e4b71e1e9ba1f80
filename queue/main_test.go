package queue

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The kill -9 tests run host processes: this test binary again, in the
	// host role (see hosts_test.go).
	if os.Getenv(hostRoleEnv) != "" {
		os.Exit(runHostRole())
	}
	goleak.VerifyTestMain(m)
}
