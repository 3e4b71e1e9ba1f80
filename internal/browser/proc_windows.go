package browser

import "os/exec"

// setGroup does nothing on Windows, where the browser tests do not run.
func setGroup(cmd *exec.Cmd) {}

// killTree kills Chromium's main process (Windows has no process group to
// signal).
func killTree(cmd *exec.Cmd) { cmd.Process.Kill() }
