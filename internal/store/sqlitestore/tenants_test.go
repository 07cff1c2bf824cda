package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
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
	s, err := OpenStore(context.Background(), single)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*Store); !ok {
		t.Errorf("single_database opened a %T, want *Store", s)
	}
	p, err := OpenStore(context.Background(), perTenantConfig(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, ok := p.(*PerTenant); !ok {
		t.Errorf("database_per_tenant opened a %T, want *PerTenant", p)
	}
}

func TestPerTenant_KeepsOneFilePerTenantAndNoFileForReads(t *testing.T) {
	p := openPerTenant(t, 5)
	ctx := context.Background()
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := p.Insert(ctx, tenant, []record.Record{{ID: tenant + "-1", Timestamp: time.Now(), Level: record.LevelInfo}}); err != nil {
			t.Fatal(err)
		}
	}
	// A record without a tenant in a batch without one goes to the default tenant's file.
	if _, err := p.Insert(ctx, "", []record.Record{{ID: "anon", Timestamp: time.Now(), Level: record.LevelInfo}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Query(ctx, store.Filter{TenantID: "initech"}, store.Page{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stats(ctx, store.StatsQuery{TenantID: "initech", Start: time.Unix(0, 1), End: time.Now()}); err != nil {
		t.Fatal(err)
	}
	got, err := p.tenants()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme", record.DefaultTenant, "globex"}; !slices.Equal(got, want) {
		t.Errorf("tenant files = %v, want %v: reads must not create files", got, want)
	}
}

func TestPerTenant_RefusesTenantIDsThatCouldEscapeTheDirectory(t *testing.T) {
	p := openPerTenant(t, 5)
	ctx := context.Background()
	parent := filepath.Dir(p.cfg.Directory)
	bad := []string{"..", ".", "../evil", "a/b", `a\b`, "a b", "ünï", "x\x00y", strings.Repeat("a", 129), "/etc/passwd"}
	for _, tenant := range bad {
		t.Run(fmt.Sprintf("tenant %q", tenant), func(t *testing.T) {
			_, err := p.Insert(ctx, tenant, []record.Record{{ID: "x", Timestamp: time.Now(), Level: record.LevelInfo}})
			if !errors.Is(err, store.ErrInvalidRecord) {
				t.Errorf("Insert = %v, want ErrInvalidRecord", err)
			}
			if _, err := p.Query(ctx, store.Filter{TenantID: tenant}, store.Page{}); !errors.Is(err, store.ErrInvalidQuery) {
				t.Errorf("Query = %v, want ErrInvalidQuery", err)
			}
			if _, err := p.Get(ctx, tenant, "x"); !errors.Is(err, store.ErrInvalidQuery) {
				t.Errorf("Get = %v, want ErrInvalidQuery", err)
			}
			if _, err := p.Trace(ctx, tenant, "abc"); !errors.Is(err, store.ErrInvalidQuery) {
				t.Errorf("Trace = %v, want ErrInvalidQuery", err)
			}
			if _, err := p.Stats(ctx, store.StatsQuery{TenantID: tenant, Start: time.Unix(0, 1), End: time.Now()}); !errors.Is(err, store.ErrInvalidQuery) {
				t.Errorf("Stats = %v, want ErrInvalidQuery", err)
			}
		})
	}
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if e.Name() != "tenants" {
			t.Errorf("a file appeared outside the tenant directory: %s", e.Name())
		}
	}
	if files, _ := os.ReadDir(p.cfg.Directory); len(files) != 0 {
		t.Errorf("refused tenants left files: %v", files)
	}
	for _, ok := range []string{"a", "acme-corp_2.eu", strings.Repeat("z", 128), "..."} {
		if err := ValidTenantID(ok); err != nil {
			t.Errorf("ValidTenantID(%q) = %v, want nil", ok, err)
		}
	}
}

func TestPerTenant_KeepsAtMostMaxActiveFilesOpen(t *testing.T) {
	p := openPerTenant(t, 2)
	ctx := context.Background()
	for i := range 6 {
		tenant := fmt.Sprintf("t%d", i)
		if _, err := p.Insert(ctx, tenant, []record.Record{{ID: tenant, Timestamp: time.Now(), Level: record.LevelInfo}}); err != nil {
			t.Fatal(err)
		}
		if n := p.openFiles(); n > 2 {
			t.Fatalf("%d files open after inserting into %s, want at most 2", n, tenant)
		}
	}
	for i := range 6 {
		tenant := fmt.Sprintf("t%d", i)
		if _, err := p.Get(ctx, tenant, tenant); err != nil {
			t.Errorf("Get(%s) after its file was closed: %v", tenant, err)
		}
	}
	if n := p.openFiles(); n != 2 {
		t.Errorf("%d files open, want 2", n)
	}
	if res := queryAllIDs(t, p, store.Filter{}); len(res) != 6 {
		t.Errorf("the admin view sees %d records, want 6", len(res))
	}
}

func queryAllIDs(t *testing.T, s store.Store, f store.Filter) []string {
	t.Helper()
	var out []string
	pg := store.Page{Limit: 2}
	for {
		res, err := s.Query(context.Background(), f, pg)
		if err != nil {
			t.Fatal(err)
		}
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
		t.Error(err)
	}
	st, err := p.Stats(context.Background(), store.StatsQuery{Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != tenants*batches || st.ByLevel["warn"] != tenants*batches {
		t.Errorf("stats across tenants count %d records, want %d", st.Total, tenants*batches)
	}
	if n := p.openFiles(); n > 2 {
		t.Errorf("%d files open once idle, want at most 2", n)
	}
}

func TestPerTenant_PruneRunsOverEveryTenantFile(t *testing.T) {
	p := openPerTenant(t, 1)
	ctx := context.Background()
	for _, tenant := range []string{"acme", "globex", "initech"} {
		if _, err := p.Insert(ctx, tenant, agedRecords(tenant, tenant, 30, 0)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := p.Prune(ctx, store.RetentionPolicy{Default: 5 * time.Hour}, pruneNow)
	if err != nil {
		t.Fatal(err)
	}
	// agedRecords(30): three per hour from 10 hours back; older than 5 hours: 5 hours x 3.
	if res.Total != 3*15 {
		t.Errorf("Prune removed %d across three tenants, want %d (%v)", res.Total, 3*15, res.RemovedByLevel)
	}
}
