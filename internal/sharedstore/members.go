package sharedstore

import "sync"

// members is a set that components join and leave at any time: the feed's subscribers, the
// writers whose state is part of the store's health.
type members[T any] struct {
	mu   sync.RWMutex
	all  map[int]T
	next int
}

// add joins v; the returned function removes it (safe to call more than once).
func (m *members[T]) add(v T) (remove func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.all == nil {
		m.all = map[int]T{}
	}
	id := m.next
	m.next++
	m.all[id] = v
	return func() {
		m.mu.Lock()
		delete(m.all, id)
		m.mu.Unlock()
	}
}

// each calls fn for every member; members may not join or leave meanwhile.
func (m *members[T]) each(fn func(T)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, v := range m.all {
		fn(v)
	}
}
