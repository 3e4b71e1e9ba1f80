package testproto

import "github.com/isolated-workers/isolated-workers-go/shared"

// Hold makes the worker allocate n MiB, touch every page and keep it for
// its lifetime (for pool memory recycling); it returns the worker's pid.
var Hold = shared.NewMessage[int, int]("hold")
