package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// openTemp opens a store on a new file in t's temporary directory, closed at cleanup.
func openTemp(t testing.TB) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "data", "audit.db")
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%q): %v", cfg.Path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore_PassesTheContractOnAFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestStore_PassesTheContractInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		cfg := DefaultConfig()
		cfg.Path = memoryPath
		s, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Open(:memory:): %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
