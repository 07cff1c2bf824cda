package collectortest

import (
	"context"
	"testing"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// StoredIDs reads every record id of the SQLite store at path, with how many times each is
// stored: what whole-collector tests compare with the ids the collector acknowledged. Call it
// after the collector has stopped.
func StoredIDs(t testing.TB, path string) map[string]int {
	t.Helper()
	return StoredBy(t, path, func(r record.Record) string { return r.ID })
}

// StoredBy counts the records of the SQLite file at path by key(record): by content, for
// example, where counting by id could not show a record stored twice under two ids.
func StoredBy(t testing.TB, path string, key func(record.Record) string) map[string]int {
	t.Helper()
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = path
	st, err := sqlitestore.OpenStore(context.Background(), cfg) // its partitions too
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counts := map[string]int{}
	page := store.Page{Limit: store.MaxLimit}
	for {
		res, err := st.Query(context.Background(), store.Filter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records {
			counts[key(r)]++
		}
		if res.NextCursor == "" {
			return counts
		}
		page.Cursor = res.NextCursor
	}
}
