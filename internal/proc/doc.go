// Package proc holds the process helpers host and worker share: whether a
// process that is not our child is alive, signalling the members of a
// process group other than the caller, and ending a process by its pid. The
// per-OS parts live in proc_unix.go (signals and process groups),
// proc_linux.go (/proc), proc_ps.go (the ps command, for macOS and the
// BSDs) and proc_windows.go (process handles; Windows has no process
// groups to signal: the host holds a worker's tree in a Job object).
package proc
