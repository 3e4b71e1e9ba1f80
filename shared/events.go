package shared

import "github.com/isolated-workers/isolated-workers-go/shared/status"

// StatusEvent carries job status events from a worker to its host, where
// host.Config.Status (for example a *status.Hub) receives them.
var StatusEvent = NewEvent[status.Event]("iw.status")
