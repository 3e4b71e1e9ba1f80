// Package check is how the examples verify what they show. Each result an
// example prints and expects (a reply, an error it provokes on purpose, a
// state after a step) is also checked with [Checker.That]; a check that
// fails prints "check failed: ..." on stderr, and [Checker.Exit] then ends
// the example with exit status 1, so that `make demo`, `make examples` and
// the tests notice instead of reading past a wrong line.
//
// # Self-test
//
// The environment variable IW_EXAMPLE_SELFTEST_FAIL=N makes the N-th
// check of a process fail whatever it saw, to prove that a failing check
// fails the example (see test/e2e/examples_test.go).
package check

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

// SelfTestEnv names the environment variable that makes one check fail on
// purpose: its value is the check's number, counting from 1.
const SelfTestEnv = "IW_EXAMPLE_SELFTEST_FAIL"

// Checker counts checks and failures. Safe for concurrent use.
type Checker struct {
	mu       sync.Mutex
	n        int // checks so far
	failed   int
	sabotage int // the check to fail on purpose; 0: none
	quiet    bool
}

// New returns a Checker, reading SelfTestEnv.
func New() *Checker {
	n, _ := strconv.Atoi(os.Getenv(SelfTestEnv))
	return &Checker{sabotage: n}
}

// That records one check: ok is whether the example saw what it expects,
// and format and args say what was checked, with what was seen and what
// was wanted. It returns ok.
func (c *Checker) That(ok bool, format string, args ...any) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	msg := fmt.Sprintf(format, args...)
	if c.n == c.sabotage {
		ok = false
		msg += fmt.Sprintf(" [failed on purpose: %s=%d]", SelfTestEnv, c.sabotage)
	}
	if !ok {
		c.failed++
		fmt.Fprintf(os.Stderr, "check failed: %s\n", msg)
	}
	return ok
}

// Quiet makes Exit print nothing when every check passed, for a process
// whose output is part of another's (a child the example starts).
func (c *Checker) Quiet() {
	c.mu.Lock()
	c.quiet = true
	c.mu.Unlock()
}

// NoError checks that err, returned by what, is nil.
func (c *Checker) NoError(what string, err error) bool {
	return c.That(err == nil, "%s: %v, want no error", what, err)
}

// Exit ends the process: with status 0 and a summary line on stdout when
// every check passed, and with status 1 otherwise. Call it after run has
// returned, so that run's deferred clean-up (closing workers) has happened.
func (c *Checker) Exit() {
	c.mu.Lock()
	n, failed, quiet := c.n, c.failed, c.quiet
	c.mu.Unlock()
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d checks failed\n", failed, n)
		os.Exit(1)
	}
	if !quiet {
		fmt.Printf("all %d checks passed\n", n)
	}
	os.Exit(0)
}
