package storefollow

import (
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// recentKey is a record's identity: the same id in two tenants is two records.
type recentKey struct{ tenant, id string }

type recentEntry struct {
	key recentKey
	at  time.Time
}

// recentIDs remembers the records already published, so that the overlap window a poll
// re-reads, and a local commit the poll also finds, publish nothing twice. It is bounded twice:
// entries older than the re-read window are forgotten (no poll can return them again), and past
// max entries the oldest go first (a duplicate may then slip through; evictions are counted).
// Not safe for concurrent use: the Follower locks.
type recentIDs struct {
	max   int
	at    map[recentKey]time.Time
	order []recentEntry // insertion order; order[head:] are live
	head  int
}

func newRecentIDs(maxEntries int) *recentIDs {
	return &recentIDs{max: maxEntries, at: map[recentKey]time.Time{}}
}

// admit returns whether r is new, and remembers it as seen at at. evicted counts the entries
// forced out by the bound.
func (s *recentIDs) admit(r *record.Record, at time.Time) (isNew bool, evicted int) {
	k := recentKey{r.TenantID, r.ID}
	if _, ok := s.at[k]; ok {
		return false, 0
	}
	s.at[k] = at
	s.order = append(s.order, recentEntry{k, at})
	for len(s.at) > s.max {
		s.drop()
		evicted++
	}
	return true, evicted
}

// forget drops the entries seen before cutoff, from the oldest on. Entries arrive in roughly
// ascending time; one seen later than a younger one behind it stays until the bound or the
// next forget passes it, which only costs memory.
func (s *recentIDs) forget(cutoff time.Time) {
	for s.head < len(s.order) && s.order[s.head].at.Before(cutoff) {
		s.drop()
	}
}

func (s *recentIDs) drop() {
	e := s.order[s.head]
	s.order[s.head] = recentEntry{}
	s.head++
	// The map may hold a newer time for the key only if it was admitted again after a drop;
	// delete only the entry this slot stands for.
	if t, ok := s.at[e.key]; ok && t.Equal(e.at) {
		delete(s.at, e.key)
	}
	if s.head > 1024 && s.head*2 > len(s.order) {
		s.order = append([]recentEntry(nil), s.order[s.head:]...)
		s.head = 0
	}
}

func (s *recentIDs) len() int { return len(s.at) }
