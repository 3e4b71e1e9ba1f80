package queue

import (
	"encoding/base64"
	"strings"
)

// names are the streams, buckets and subjects of one queue (Config.Name).
type names struct {
	jobsStream, deadStream  string // IW_JOBS, IW_DEAD
	statusKV, attemptsKV    string // iw-status, iw-attempts
	jobs, sched, dead, stat string // iw.jobs, iw.sched, iw.dead, iw.status
}

func newNames(name string) names {
	up := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	return names{
		jobsStream: up + "_JOBS",
		deadStream: up + "_DEAD",
		statusKV:   name + "-status",
		attemptsKV: name + "-attempts",
		jobs:       name + ".jobs",
		sched:      name + ".sched",
		dead:       name + ".dead",
		stat:       name + ".status",
	}
}

func (n names) jobSubject(typ string) string       { return n.jobs + "." + typ }
func (n names) schedSubject(typ, id string) string { return n.sched + "." + typ + "." + token(id) }
func (n names) deadSubject(id string) string       { return n.dead + "." + token(id) }
func (n names) statusSubject(id string) string     { return n.stat + "." + token(id) }

// plainToken reports whether s can be a subject token and a key-value key
// as it is.
func plainToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// b64Prefix marks an encoded job ID. A plain ID never contains a dot, so
// the two forms cannot collide.
const b64Prefix = "b64."

// token maps a job ID to a subject token and key-value key: the ID itself
// when it is made of letters, digits, '-' and '_' (a UUID, a ULID,
// "order-42"), else "b64." and its unpadded URL-safe base64.
func token(id string) string {
	if plainToken(id) {
		return id
	}
	return b64Prefix + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// untoken inverts token.
func untoken(t string) (string, bool) {
	if s, ok := strings.CutPrefix(t, b64Prefix); ok {
		b, err := base64.RawURLEncoding.DecodeString(s)
		return string(b), err == nil
	}
	return t, plainToken(t)
}
