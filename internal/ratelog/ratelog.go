// Package ratelog limits a repeated log record to one per interval and
// counts the ones it held back, so a flood from another process is seen
// (with its size) without flooding the log.
package ratelog

import (
	"sync"
	"time"
)

// Limiter lets one occurrence of a repeated event be logged per interval.
// The zero value is not usable; use New. Safe for concurrent use.
type Limiter struct {
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// New returns a Limiter that allows one record per every.
func New(every time.Duration) *Limiter { return &Limiter{every: every, now: time.Now} }

// Allow records one occurrence. It reports whether to log it, and, when it
// does, how many occurrences were held back since the last one logged: a
// number the record should carry ("suppressed", n).
func (l *Limiter) Allow() (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return false, 0
	}
	l.last = now
	n := l.suppressed
	l.suppressed = 0
	return true, n
}

// Suppressed returns how many occurrences are held back now: ones that
// no logged record has counted yet.
func (l *Limiter) Suppressed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.suppressed
}
