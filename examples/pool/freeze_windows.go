package main

import "errors"

// freeze would stop process pid; Windows has no SIGSTOP.
func freeze(pid int) error {
	return errors.New("freeze: stopping a process needs SIGSTOP (Unix)")
}
