package sqlitestore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func records(prefix string, n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{
			ID: fmt.Sprintf("%s-%04d", prefix, i), Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
			Level: record.LevelInfo, Event: "user.login", Message: fmt.Sprintf("login number %d", i),
			Attributes: map[string]any{"seq": int64(i)},
		}
	}
	return out
}

func count(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoErrorf(t, s.read.QueryRow(query, args...).Scan(&n), "%s", query)
	return n
}

func TestInsert_BatchesOfEverySizeAroundTheStatementWidthAreStoredWhole(t *testing.T) {
	s := openTemp(t)
	total := 0
	for _, n := range []int{1, 49, 50, 51, 100, 137} {
		recs := records(fmt.Sprintf("size%d", n), n)
		_, err := s.Insert(context.Background(), "acme", recs)
		require.NoError(t, err, "Insert %d records", n)
		total += n
		assert.Equal(t, n, count(t, s, `SELECT count(*) FROM audit_logs WHERE id LIKE ?`, fmt.Sprintf("size%d-%%", n)), "rows stored by a batch of %d", n)
	}
	assert.Equal(t, total, count(t, s, `SELECT count(*) FROM audit_logs`), "stored rows")
	// One prepared statement per width used: 1, 49, 50, 1 (from 51), 37 (from 137).
	s.inserts.mu.Lock()
	widths := 0
	for query := range s.inserts.bySQL {
		if strings.HasPrefix(query, "INSERT OR ROLLBACK INTO audit_logs ") {
			widths++
		}
	}
	s.inserts.mu.Unlock()
	assert.Equal(t, 4, widths, "statement widths prepared, want 4 (1, 37, 49, 50)")
}

func TestInsert_ValuesJSONCannotHoldAreStoredNotRefused(t *testing.T) {
	s := openTemp(t)
	r := record.Record{
		ID: "nan", Timestamp: t0, Level: record.LevelInfo, DurationMS: math.NaN(),
		Attributes: map[string]any{"ratio": math.NaN(), "nested": map[string]any{"limit": math.Inf(1)}, "ok": "yes"},
	}
	_, err := s.Insert(context.Background(), "acme", []record.Record{r})
	require.NoError(t, err, "Insert with NaN and Inf values")
	got, err := s.Get(context.Background(), "acme", "nan")
	require.NoError(t, err)
	assert.Zero(t, got.DurationMS, "a NaN duration reads back as %v, want 0", got.DurationMS)
	assert.Equal(t, "NaN", got.Attributes["ratio"], "attributes = %v, want ratio \"NaN\" and ok kept", got.Attributes)
	assert.Equal(t, "yes", got.Attributes["ok"], "attributes = %v, want ratio \"NaN\" and ok kept", got.Attributes)
	nested, _ := got.Attributes["nested"].(map[string]any)
	assert.Equal(t, "+Inf", nested["limit"], "nested attributes = %v, want limit \"+Inf\"", got.Attributes["nested"])
}

func TestInsert_RefusesRecordsItCannotStoreFaithfully(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*record.Record)
		reason string
	}{
		{"an empty id", func(r *record.Record) { r.ID = "" }, "id is empty"},
		{"a timestamp before 1678", func(r *record.Record) { r.Timestamp = time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC) }, "timestamp 1500-01-01T00:00:00Z is outside"},
		{"an observed timestamp after 2262", func(r *record.Record) { r.ObservedTimestamp = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, "observed_timestamp 2300-01-01T00:00:00Z is outside"},
		{"another tenant's record", func(r *record.Record) { r.TenantID = "globex" }, `differs from the batch's tenant "acme"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t)
			recs := records("bad", 3)
			tc.mutate(&recs[2])
			_, err := s.Insert(context.Background(), "acme", recs)
			require.ErrorContains(t, err, tc.reason, "Insert, want an error about record 2 saying %q", tc.reason)
			require.ErrorContains(t, err, "record 2", "Insert, want an error about record 2 saying %q", tc.reason)
			assert.Zero(t, count(t, s, `SELECT count(*) FROM audit_logs`), "records of the refused batch were stored")
		})
	}
}

func TestInsert_ARecordWithoutAnyTenantGoesToTheDefaultTenant(t *testing.T) {
	s := openTemp(t)
	_, err := s.Insert(context.Background(), "", records("nt", 1))
	require.NoError(t, err)
	got, err := s.Get(context.Background(), record.DefaultTenant, "nt-0000")
	require.NoError(t, err, "Get(default)")
	assert.Equal(t, record.DefaultTenant, got.TenantID, "TenantID")
}

func TestInsert_StoresJSONAsWritten(t *testing.T) {
	s := openTemp(t)
	r := records("json", 1)
	r[0].Attributes = map[string]any{"html": "<b>a & b</b>"}
	_, err := s.Insert(context.Background(), "acme", r)
	require.NoError(t, err)
	var attrs, tags string
	require.NoError(t, s.read.QueryRow(`SELECT attributes, tags FROM audit_logs WHERE id = 'json-0000'`).Scan(&attrs, &tags))
	assert.Equal(t, `{"html":"<b>a & b</b>"}`, attrs, "stored attributes; want unescaped JSON")
	assert.Equal(t, "[]", tags, "stored tags")
}

func TestInsert_HonoursACancelledContext(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Insert(ctx, "acme", records("ctx", 3))
	require.ErrorIs(t, err, context.Canceled, "Insert with a cancelled context")
}

// The full-text index is external content: only the triggers keep it in step with audit_logs.
// Replayed (ignored) inserts must add nothing to it and deletes (retention) must remove.
func TestFTS_StaysInStepWithTheTableThroughReplaysAndDeletes(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	recs := records("fts", 120)
	recs[7].Message = "quarantined upload"
	for range 2 {
		_, err := s.Insert(ctx, "acme", recs)
		require.NoError(t, err)
	}
	_, err := s.write.Exec(`DELETE FROM audit_logs WHERE id IN ('fts-0007', 'fts-0008')`)
	require.NoError(t, err)
	_, err = s.write.Exec(`INSERT INTO audit_fts (audit_fts, rank) VALUES ('integrity-check', 1)`)
	assert.NoError(t, err, "FTS5 integrity-check against audit_logs")
	res, err := s.Query(ctx, store.Filter{Text: "quarantined"}, store.Page{})
	require.NoError(t, err)
	assert.Empty(t, res.Records, "a deleted record is still found")
	assert.Equal(t, 118, count(t, s, `SELECT count(*) FROM audit_fts WHERE audit_fts MATCH 'login'`), "rows the index finds for a word of every record")
}

// Query picks one of two plans for a search by the number of matches; both must return the
// same pages.
func TestQuery_BothSearchPlansReturnTheSamePages(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	recs := records("plan", 300)
	for i := range recs {
		recs[i].TenantID = []string{"acme", "globex"}[i%2]
		recs[i].Timestamp = t0.Add(time.Duration(i/4) * time.Second) // ties, broken by id
		if i%3 == 0 {
			recs[i].Message = "password reset requested"
		}
	}
	for _, tenant := range []string{"acme", "globex"} {
		var batch []record.Record
		for _, r := range recs {
			if r.TenantID == tenant {
				batch = append(batch, r)
			}
		}
		_, err := s.Insert(ctx, tenant, batch)
		require.NoError(t, err)
	}
	filters := []store.Filter{
		{Text: "password reset"},
		{TenantID: "acme", Text: "reset"},
		{TenantID: "globex", Text: "login OR reset", Start: t0.Add(10 * time.Second), End: t0.Add(60 * time.Second)},
	}
	walk := func(f store.Filter, searchFirst bool) []string {
		match, err := ftsQuery(f.Text)
		require.NoError(t, err)
		var out []string
		p := store.Page{Limit: 7}
		for {
			query, args, err := buildQuery(f, match, searchFirst, p, nil)
			require.NoError(t, err)
			page, err := s.selectRecords(ctx, query, args, 8)
			require.NoErrorf(t, err, "%s", query)
			for i, r := range page {
				if i < 7 {
					out = append(out, r.ID)
				}
			}
			if len(page) <= 7 {
				return out
			}
			last := page[6]
			p.Cursor = store.Cursor{TimestampNanos: last.Timestamp.UnixNano(), ID: last.ID}.Encode()
		}
	}
	for _, f := range filters {
		timeFirst, searchFirst := walk(f, false), walk(f, true)
		assert.NotEmpty(t, timeFirst, "filter %+v matched nothing; the comparison needs matches", f)
		assert.True(t, slices.Equal(timeFirst, searchFirst), "filter %+v: the plans disagree:\ntime first:   %v\nsearch first: %v", f, timeFirst, searchFirst)
	}
}

// A batch's rows reach the full-text index as one FTS5 segment, written at commit. Indexed
// row by row as each INSERT ran (schema v5's trigger), every statement of the transaction
// after the first wrote the rows pending so far as a segment of their own: about 30 a batch of
// 1,000, which FTS5 then merged and deleted again, most of the writer's time on a large file.
func TestInsert_IndexesABatchAsOneFullTextSegment(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	recs := records("seg", 1000)
	n, err := s.Insert(ctx, "acme", recs)
	require.NoError(t, err)
	require.Equal(t, 1000, n, "records stored")
	assert.Equal(t, 1, count(t, s, `SELECT count(DISTINCT segid) FROM audit_fts_idx`), "full-text segments after one batch")
	assert.Equal(t, 1000, count(t, s, `SELECT count(*) FROM audit_fts WHERE audit_fts MATCH 'login'`), "rows the index finds for a word of every record")

	// A batch of replays and new records indexes the new ones only, once.
	more := append(records("seg", 10), records("seg-more", 10)...)
	n, err = s.Insert(ctx, "acme", more)
	require.NoError(t, err)
	require.Equal(t, 10, n, "records stored of a batch with 10 replays")
	assert.Equal(t, 1010, count(t, s, `SELECT count(*) FROM audit_fts WHERE audit_fts MATCH 'login'`), "rows the index finds after the replays")
	_, err = s.write.Exec(`INSERT INTO audit_fts (audit_fts, rank) VALUES ('integrity-check', 1)`)
	assert.NoError(t, err, "FTS5 integrity-check against audit_logs")
}

// A statement that fails part-way through a batch leaves nothing of the batch: not the rows of
// the statements before it, not their chain links, not their full-text rows; and the store
// takes the next batch.
func TestInsert_AFailureInALaterStatementStoresNothingOfTheBatch(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	_, err := s.write.Exec(`CREATE TRIGGER refuse_one BEFORE INSERT ON audit_logs WHEN new.id = 'fail-0070'
		BEGIN SELECT RAISE(ABORT, 'refused by test'); END`)
	require.NoError(t, err)
	_, err = s.Insert(ctx, "acme", records("fail", 120))
	require.ErrorContains(t, err, "refused by test")
	assert.Zero(t, count(t, s, `SELECT count(*) FROM audit_logs`), "rows left by the failed batch")
	assert.Zero(t, count(t, s, `SELECT count(*) FROM audit_chain`), "chain links left by the failed batch")
	assert.Zero(t, count(t, s, `SELECT count(*) FROM audit_fts WHERE audit_fts MATCH 'login'`), "full-text rows left by the failed batch")

	n, err := s.Insert(ctx, "acme", records("next", 120))
	require.NoError(t, err, "the batch after a failed one")
	assert.Equal(t, 120, n, "records stored of the batch after a failed one")
	assert.Equal(t, 120, count(t, s, `SELECT count(*) FROM audit_fts WHERE audit_fts MATCH 'login'`), "full-text rows of the batch after a failed one")
}
