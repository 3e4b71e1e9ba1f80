package proc

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Job is a Windows Job object that holds a worker and every process it
// starts. It is created with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: when its
// last handle closes, which happens at the latest when the host process
// dies, however it dies, Windows ends every process in it.
type Job struct {
	h windows.Handle
}

// NewJob creates an unnamed Job object that kills its processes when it
// is closed.
func NewJob() (*Job, error) {
	h, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("create job object: %w", err)
	}
	info := killOnCloseLimits()
	if _, err := windows.SetInformationJobObject(h, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("set job object limits (kill on close): %w", err)
	}
	return &Job{h: h}, nil
}

// Assign puts the process pid, and so every process it starts from then
// on, into the job.
func (j *Job) Assign(pid int) error {
	p, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	if err := windows.AssignProcessToJobObject(j.h, p); err != nil {
		return fmt.Errorf("assign process %d to job object: %w", pid, err)
	}
	return nil
}

// Terminate ends every process in the job (exit code 1).
func (j *Job) Terminate() error {
	if err := windows.TerminateJobObject(j.h, 1); err != nil {
		return fmt.Errorf("terminate job object: %w", err)
	}
	return nil
}

// Close closes the job's handle, which ends every process still in it.
func (j *Job) Close() error { return windows.CloseHandle(j.h) }

// killOnCloseLimits is the limit information every Job is created with.
func killOnCloseLimits() windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION {
	return windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{
			LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
		},
	}
}
