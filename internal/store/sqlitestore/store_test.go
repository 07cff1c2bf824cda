package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// openTemp opens a store on a new file in t's temporary directory, closed at cleanup.
func openTemp(t testing.TB) *Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "data", "audit.db")
	s, err := Open(context.Background(), cfg)
	require.NoErrorf(t, err, "Open(%q)", cfg.Path)
	t.Cleanup(func() {
		assert.NoError(t, s.Close(), "Close")
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
		require.NoError(t, err, "Open(:memory:)")
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// A row whose attributes cannot be decoded (nested beyond encoding/json's 10,000 levels, as
// rows written before intake limits could be) is returned flagged; its neighbours are read.
func TestStore_AnUndecodableRowIsFlaggedAndNeverFailsAPage(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "audit.db"))
	defer s.Close()
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var good []record.Record
	for i := range 3 {
		good = append(good, record.Record{ID: fmt.Sprintf("good-%d", i), TenantID: "acme", Timestamp: base.Add(time.Duration(i) * time.Second),
			Level: record.LevelInfo, TraceID: "0102030405060708090a0b0c0d0e0f10", Attributes: map[string]any{"k": "v"}})
	}
	_, err := s.Insert(ctx, "acme", good)
	require.NoError(t, err)
	deep := strings.Repeat(`{"x":`, 10_001) + "1" + strings.Repeat("}", 10_001)
	_, err = s.write.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id, trace_id, attributes)
		VALUES ('poison', ?, ?, 2, 'acme', '0102030405060708090a0b0c0d0e0f10', ?)`, base.Add(1500*time.Millisecond).UnixNano(), base.UnixNano(), deep)
	require.NoError(t, err)

	page, err := s.Query(ctx, store.Filter{TenantID: "acme"}, store.Page{Limit: 10})
	require.NoError(t, err, "a page holding the bad row failed")
	require.Len(t, page.Records, 4, "page records")
	flagged := 0
	for _, r := range page.Records {
		if r.ReadError != "" {
			flagged++
			assert.Equal(t, "poison", r.ID, "flagged %s with %q, attributes %v", r.ID, r.ReadError, r.Attributes)
			assert.Contains(t, r.ReadError, "attributes", "flagged %s with %q, attributes %v", r.ID, r.ReadError, r.Attributes)
			assert.NotNil(t, r.Attributes, "flagged %s with %q, attributes %v", r.ID, r.ReadError, r.Attributes)
		}
	}
	assert.Equal(t, 1, flagged, "records flagged, want only the bad one")
	r, err := s.Get(ctx, "acme", "poison")
	if assert.NoError(t, err, "Get of the bad row") {
		assert.NotEmpty(t, r.ReadError, "Get of the bad row, want it flagged")
	}
	recs, err := s.Trace(ctx, "acme", "0102030405060708090a0b0c0d0e0f10")
	assert.NoError(t, err, "Trace")
	assert.Len(t, recs, 4, "Trace")
}
