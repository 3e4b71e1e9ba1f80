// Package testproto is the protocol of the end-to-end test worker
// (test/testworker): its handshake and messages.
package testproto

import (
	"github.com/isolated-workers/isolated-workers-go/handshake"
	"github.com/isolated-workers/isolated-workers-go/shared"
)

// Handshake of the test worker.
var Handshake = handshake.Config{
	MagicCookieKey:   "IW_TEST_WORKER",
	MagicCookieValue: "7f3e2a",
	ProtocolVersions: []int{1},
}

// Item is a structured payload.
type Item struct {
	Name  string            `json:"name" msgpack:"name"`
	Count int               `json:"count" msgpack:"count"`
	Tags  map[string]string `json:"tags,omitempty" msgpack:"tags,omitempty"`
	Blob  []byte            `json:"blob,omitempty" msgpack:"blob,omitempty"`
}

// LogReq asks the worker to log a record.
type LogReq struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Key     string `json:"key"`
	Value   string `json:"value"`
}

// Messages of the test worker.
var (
	Ping       = shared.NewMessage[string, string]("ping")
	EchoItem   = shared.NewMessage[Item, Item]("echo-item")
	Echo       = shared.NewMessage[[]byte, []byte]("echo")
	Sleep      = shared.NewMessage[int, string]("sleep")        // sleeps n ms; returns "cancelled" via an event if cancelled
	SleepStuck = shared.NewMessage[int, string]("sleep-stuck")  // sleeps n ms ignoring cancellation
	Fail       = shared.NewMessage[FailReq, string]("fail")     // returns an error of the given class
	Crash      = shared.NewMessage[int, string]("crash")        // exits with status n
	Kill       = shared.NewMessage[string, string]("kill-self") // SIGKILLs itself
	Panic      = shared.NewMessage[string, string]("panic")
	Log        = shared.NewMessage[LogReq, string]("log")
	Stderr     = shared.NewMessage[int, string]("stderr") // writes a line of n bytes to stderr
	Headers    = shared.NewMessage[string, map[string]string]("headers")
	Deadline   = shared.NewMessage[string, int64]("deadline") // remaining ms of the handler's deadline, -1 if none
	Emit       = shared.NewMessage[int, string]("emit")       // emits n Tick events
	Version    = shared.NewMessage[string, int]("version")
	Pid        = shared.NewMessage[string, int]("pid")
	Unknown    = shared.NewMessage[string, string]("no-such-message")
	WrongType  = shared.NewMessage[int, int]("ping")            // same name as Ping, other types
	DropConn   = shared.NewMessage[string, string]("drop-conn") // shuts the worker's host sockets down, keeps running
	Big        = shared.NewMessage[int, string]("big")          // returns a string of n bytes
	// SpawnHelper starts a helper process (sleep) that inherits the
	// worker's stdout and stderr and stays in its process group; it
	// returns the helper's pid.
	SpawnHelper = shared.NewMessage[string, int]("spawn-helper")
	// Stuck starts a helper as SpawnHelper does, emits HelperStarted with
	// its pid, then blocks for ever, ignoring its context.
	Stuck = shared.NewMessage[string, string]("stuck")
	// ChildEnv returns the handshake variables (ISOLATED_WORKERS_* and the
	// cookie) that a process the worker starts sees.
	ChildEnv = shared.NewMessage[string, []string]("child-env")

	// LogMany logs n warn records "flood" (field i) as fast as it can and
	// returns the worker's drop counts (plugin.Dropped) after the last.
	LogMany = shared.NewMessage[int, shared.Dropped]("log-many")

	// EmitOnCancel emits Tick -1, waits until its context ends (the host
	// disconnected), then emits Ticks 0 to n-1 and writes EmitOnCancelDone
	// to stderr.
	EmitOnCancel = shared.NewMessage[int, string]("emit-on-cancel")
)

// HelperStarted is emitted by Stuck with the pid of the helper it started.
var HelperStarted = shared.NewEvent[int]("helper-started")

// EmitOnCancelDone is the stderr line EmitOnCancel writes when it has
// emitted its events.
const EmitOnCancelDone = "testworker: emit-on-cancel emitted its events"

// FailReq asks for an error.
type FailReq struct {
	Message    string `json:"message"`
	Class      string `json:"class"`
	Code       string `json:"code"`
	RetryAfter int    `json:"retryAfterMs"`
}

// Tick is the test event.
var Tick = shared.NewEvent[int]("tick")

// Cancelled is emitted when a Sleep handler sees its context cancelled.
var Cancelled = shared.NewEvent[string]("cancelled")

// SleepEnded is emitted with ctx.Err()'s text when a Sleep handler's
// context ends.
var SleepEnded = shared.NewEvent[string]("sleep-ended")

// Started is emitted with the call's transaction id when a Sleep or
// SleepStuck handler starts, so that a test waits for the call to be in
// the worker instead of sleeping.
var Started = shared.NewEvent[string]("started")
