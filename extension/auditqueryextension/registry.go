package auditqueryextension

import (
	"errors"
	"sync"
)

// backendSlot holds the backend the API serves, set at Start from the auditstore extension.
//
// Invariant: a request that acquired the backend keeps it until it releases it, and unregister
// waits for every such request. The store closes only after this extension's Shutdown (the
// collector stops extensions in reverse dependency order), so no request ever runs against a
// closed store; requests that arrive after the unregister began see no backend and answer 503.
type backendSlot struct {
	mu      sync.RWMutex
	backend *Backend
}

var errBackendRegistered = errors.New("register backend: a backend is already registered; each auditquery extension serves one store")

func (s *backendSlot) register(b Backend) error {
	if b.Store == nil {
		return errors.New("register backend: store is nil")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A second registration would silently replace the store the API serves.
	if s.backend != nil {
		return errBackendRegistered
	}
	s.backend = &b
	return nil
}

func (s *backendSlot) unregister() {
	s.mu.Lock()
	s.backend = nil
	s.mu.Unlock()
}

// acquire returns the backend and the function that releases it; ok is false, and nothing needs
// releasing, when none is registered. A request acquires at most once: a second RLock behind a
// waiting unregister would deadlock.
func (s *backendSlot) acquire() (b Backend, release func(), ok bool) {
	s.mu.RLock()
	if s.backend == nil {
		s.mu.RUnlock()
		return Backend{}, nil, false
	}
	return *s.backend, s.mu.RUnlock, true
}
