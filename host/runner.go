package host

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
)

// Runner runs the worker another way: under a wrapper command (env, nice,
// ionice, taskset, prlimit, setpriv, unshare, bwrap, a shell script that
// ends in exec "$@"), as another user (cmd.SysProcAttr.Credential), or in a
// sandbox. It is go-plugin's RunnerFunc in the small: Start calls it with
// the worker's command once the handshake is in it (cookie and handshake
// variables in Env, the ready pipe the last of ExtraFiles, stdio, the
// process group in SysProcAttr) and just before starting it; the Runner
// rewrites the command in place (typically Path and Args) and Start starts
// it, then handles it like any worker: logs, exit status, Close, the
// process-group kill.
//
// What the command it starts must preserve, or the handshake fails (the
// start-up error says which step):
//   - the environment: the magic cookie and every ISOLATED_WORKERS_*
//     variable must reach the worker (`env -i`, sudo and su clear them
//     unless told to keep them);
//   - the ready pipe: the descriptor named by ISOLATED_WORKERS_READY_FD
//     (3 + the caller's ExtraFiles) must stay open, at that number, in the
//     worker (sudo closes descriptors above 2 unless -C; a container
//     runtime does not pass them at all);
//   - the socket path: ISOLATED_WORKERS_SOCKET_PATH must name the same
//     socket in the worker's view of the file system (a sandbox binds the
//     directory at the same path), and a worker running as another user
//     must be able to create it there (UnixSocketConfig.Group).
//
// A wrapper that execs the worker (env, nice, setpriv, exec "$@" in a
// script) keeps the process: PID is the worker's and signals reach it. A
// wrapper that forks and waits instead makes PID the wrapper's; Close
// still takes down everything that stays in the worker's process group, but
// a runner that moves the worker out of it (setsid, a container daemon)
// must make the wrapper's death stop the worker itself.
//
// The Runner must not start the command. An error it returns fails Start
// before anything is spawned. Config.SecureConfig checks the worker
// executable (Cmd.Path) before the Runner rewrites it.
type Runner func(cmd *exec.Cmd) error

// Wrap returns a Runner that runs the worker as an argument of a wrapper
// command: Wrap("nice", "-n", "10") runs "nice -n 10 /path/to/worker
// args...". The wrapper is looked up in PATH as exec.Command does.
func Wrap(wrapper string, args ...string) Runner {
	return func(cmd *exec.Cmd) error {
		path, err := exec.LookPath(wrapper)
		if err != nil {
			return fmt.Errorf("wrapper: %w", err)
		}
		worker := cmd.Path
		var rest []string
		if len(cmd.Args) > 1 {
			rest = cmd.Args[1:]
		}
		cmd.Path = path
		cmd.Args = slices.Concat([]string{wrapper}, args, []string{worker}, rest)
		return nil
	}
}

// runCommand applies cfg.Runner to the command about to be started.
func (w *Worker) runCommand(cmd *exec.Cmd) error {
	if w.cfg.Runner == nil {
		return nil
	}
	if err := w.cfg.Runner(cmd); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	if cmd.Process != nil {
		return errors.New("runner: it started the command; it must only rewrite it")
	}
	w.logger.Debug("worker command rewritten by its runner", "worker", w.cfg.Name, "path", cmd.Path, "args", cmd.Args)
	return nil
}
