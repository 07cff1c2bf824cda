package sqlitestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

func perTenantConfig(t testing.TB, maxOpen int) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Tenancy = TenancyDatabasePerTenant
	cfg.Directory = filepath.Join(t.TempDir(), "tenants")
	cfg.MaxActiveConnections = maxOpen
	return cfg
}

func openPerTenant(t testing.TB, maxOpen int) *PerTenant {
	t.Helper()
	p, err := OpenPerTenant(context.Background(), perTenantConfig(t, maxOpen))
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, p.Close(), "Close")
	})
	return p
}

func TestPerTenant_PassesTheContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPerTenant(t, DefaultMaxActiveConnections) })
}

// One open file at a time: every operation that changes tenant evicts and reopens.
func TestPerTenant_PassesTheContractWithOneOpenFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPerTenant(t, 1) })
}

func TestOpenStore_PicksTheTenancyMode(t *testing.T) {
	single := DefaultConfig()
	single.Path = filepath.Join(t.TempDir(), "audit.db")
	single.PartitionMaxRows = 0 // one file (partitions: TestOpenStore_PartitionsByDefaultWhereTheyApply)
	s, err := OpenStore(context.Background(), single)
	require.NoError(t, err)
	defer s.Close()
	assert.IsType(t, (*Store)(nil), s, "single_database opened a %T, want *Store", s)
	p, err := OpenStore(context.Background(), perTenantConfig(t, 3))
	require.NoError(t, err)
	defer p.Close()
	assert.IsType(t, (*PerTenant)(nil), p, "database_per_tenant opened a %T, want *PerTenant", p)
}

func TestPerTenant_KeepsOneFilePerTenantAndNoFileForReads(t *testing.T) {
	p := openPerTenant(t, 5)
	ctx := context.Background()
	for _, tenant := range []string{"acme", "globex"} {
		_, err := p.Insert(ctx, tenant, []record.Record{{ID: tenant + "-1", Timestamp: time.Now(), Level: record.LevelInfo}})
		require.NoError(t, err)
	}
	// A record without a tenant in a batch without one goes to the default tenant's file.
	_, err := p.Insert(ctx, "", []record.Record{{ID: "anon", Timestamp: time.Now(), Level: record.LevelInfo}})
	require.NoError(t, err)
	_, err = p.Query(ctx, store.Filter{TenantID: "initech"}, store.Page{})
	require.NoError(t, err)
	_, err = p.Stats(ctx, store.StatsQuery{TenantID: "initech", Start: time.Unix(0, 1), End: time.Now()})
	require.NoError(t, err)
	got, err := p.tenants()
	require.NoError(t, err)
	assert.Equal(t, []string{"acme", record.DefaultTenant, "globex"}, got, "tenant files: reads must not create files")
}

func TestPerTenant_RefusesTenantIDsThatCouldEscapeTheDirectory(t *testing.T) {
	p := openPerTenant(t, 5)
	ctx := context.Background()
	parent := filepath.Dir(p.cfg.Directory)
	bad := []string{"..", ".", "../evil", "a/b", `a\b`, "a b", "ünï", "x\x00y", strings.Repeat("a", 129), "/etc/passwd"}
	for _, tenant := range bad {
		t.Run(fmt.Sprintf("tenant %q", tenant), func(t *testing.T) {
			_, err := p.Insert(ctx, tenant, []record.Record{{ID: "x", Timestamp: time.Now(), Level: record.LevelInfo}})
			assert.ErrorIs(t, err, store.ErrInvalidRecord, "Insert")
			_, err = p.Query(ctx, store.Filter{TenantID: tenant}, store.Page{})
			assert.ErrorIs(t, err, store.ErrInvalidQuery, "Query")
			_, err = p.Get(ctx, tenant, "x")
			assert.ErrorIs(t, err, store.ErrInvalidQuery, "Get")
			_, err = p.Trace(ctx, tenant, "abc")
			assert.ErrorIs(t, err, store.ErrInvalidQuery, "Trace")
			_, err = p.Stats(ctx, store.StatsQuery{TenantID: tenant, Start: time.Unix(0, 1), End: time.Now()})
			assert.ErrorIs(t, err, store.ErrInvalidQuery, "Stats")
		})
	}
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		assert.Equal(t, "tenants", e.Name(), "a file appeared outside the tenant directory")
	}
	files, _ := os.ReadDir(p.cfg.Directory)
	assert.Empty(t, files, "refused tenants left files")
	for _, ok := range []string{"a", "acme-corp_2.eu", strings.Repeat("z", 128), "..."} {
		assert.NoError(t, ValidTenantID(ok), "ValidTenantID(%q)", ok)
	}
}

func TestPerTenant_KeepsAtMostMaxActiveFilesOpen(t *testing.T) {
	p := openPerTenant(t, 2)
	ctx := context.Background()
	for i := range 6 {
		tenant := fmt.Sprintf("t%d", i)
		_, err := p.Insert(ctx, tenant, []record.Record{{ID: tenant, Timestamp: time.Now(), Level: record.LevelInfo}})
		require.NoError(t, err)
		require.LessOrEqual(t, p.openFiles(), 2, "files open after inserting into %s, want at most 2", tenant)
	}
	for i := range 6 {
		tenant := fmt.Sprintf("t%d", i)
		_, err := p.Get(ctx, tenant, tenant)
		assert.NoError(t, err, "Get(%s) after its file was closed", tenant)
	}
	assert.Equal(t, 2, p.openFiles(), "files open")
	assert.Len(t, queryAllIDs(t, p, store.Filter{}), 6, "records the admin view sees")
}

func queryAllIDs(t *testing.T, s store.Store, f store.Filter) []string {
	t.Helper()
	var out []string
	pg := store.Page{Limit: 2}
	for {
		res, err := s.Query(context.Background(), f, pg)
		require.NoError(t, err)
		for _, r := range res.Records {
			out = append(out, r.ID)
		}
		if res.NextCursor == "" {
			return out
		}
		pg.Cursor = res.NextCursor
	}
}

// Handles are evicted while other goroutines use them: nothing fails, nothing is lost.
func TestPerTenant_EvictionUnderConcurrentUseLosesNothing(t *testing.T) {
	p := openPerTenant(t, 2)
	const tenants, batches = 5, 8
	var wg sync.WaitGroup
	errs := make(chan error, tenants*batches*2)
	for i := range tenants {
		tenant := fmt.Sprintf("t%d", i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for b := range batches {
				recs := []record.Record{{ID: fmt.Sprintf("%s-%d", tenant, b), Timestamp: time.Now(), Level: record.LevelWarn, Message: "concurrent"}}
				if _, err := p.Insert(context.Background(), tenant, recs); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range batches {
				if _, err := p.Query(context.Background(), store.Filter{TenantID: tenant, Text: "concurrent"}, store.Page{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	st, err := p.Stats(context.Background(), store.StatsQuery{Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	assert.EqualValues(t, tenants*batches, st.Total, "stats across tenants count, want %d", tenants*batches)
	assert.EqualValues(t, tenants*batches, st.ByLevel["warn"], "stats across tenants count warn, want %d", tenants*batches)
	assert.LessOrEqual(t, p.openFiles(), 2, "files open once idle, want at most 2")
}

func TestPerTenant_PruneRunsOverEveryTenantFile(t *testing.T) {
	p := openPerTenant(t, 1)
	ctx := context.Background()
	for _, tenant := range []string{"acme", "globex", "initech"} {
		_, err := p.Insert(ctx, tenant, agedRecords(tenant, tenant, 30, 0))
		require.NoError(t, err)
	}
	res, err := p.Prune(ctx, store.RetentionPolicy{Default: 5 * time.Hour}, pruneNow)
	require.NoError(t, err)
	// agedRecords(30): three per hour from 10 hours back; older than 5 hours: 5 hours x 3.
	assert.EqualValues(t, 3*15, res.Total, "Prune removed across three tenants (%v)", res.RemovedByLevel)
}
