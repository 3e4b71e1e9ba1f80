package statushub

import (
	"container/list"

	"github.com/isolated-workers/isolated-workers-go/shared/status"
)

// jobTable is the hub's per-job snapshot: the latest event of each job, in
// order of last update, bounded to max jobs. It is not safe for concurrent
// use; the hub guards it with its mutex.
type jobTable struct {
	max   int
	order *list.List // of Event, least recently updated first
	byJob map[string]*list.Element
}

func newJobTable(max int) *jobTable {
	return &jobTable{max: max, order: list.New(), byJob: make(map[string]*list.Element)}
}

// put records ev as its job's latest event and evicts the least recently
// updated job when the table is over its bound.
func (t *jobTable) put(ev status.Event) {
	if e, ok := t.byJob[ev.JobID]; ok {
		e.Value = ev
		t.order.MoveToBack(e)
		return
	}
	t.byJob[ev.JobID] = t.order.PushBack(ev)
	for t.order.Len() > t.max {
		oldest := t.order.Front()
		delete(t.byJob, oldest.Value.(status.Event).JobID)
		t.order.Remove(oldest)
	}
}

// events returns the latest event of every job, least recently updated first.
func (t *jobTable) events() []status.Event {
	out := make([]status.Event, 0, t.order.Len())
	for e := t.order.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(status.Event))
	}
	return out
}
