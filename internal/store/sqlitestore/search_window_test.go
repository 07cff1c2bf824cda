package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// TestSearchCommonWords_PagesAreExactWhateverTheWindow compares every page of common-word
// searches served through windows of 8 rows (so windows grow, run out, and fall back) with the
// same search answered by reading all matches. The data defeat any shortcut on seq order: a
// third of the rows arrive late, with timestamps older than rows stored before them, and the
// word is in one row of seven.
func TestSearchCommonWords_PagesAreExactWhateverTheWindow(t *testing.T) {
	s := openTemp(t)
	s.searchFirstBelow, s.searchWindowRows = 2, 8 // every search takes the windows
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var recs []record.Record
	for i := range 700 {
		ts := base.Add(time.Duration(i) * time.Minute)
		if i%3 == 0 {
			ts = ts.Add(-time.Duration(i%50) * time.Hour) // late: older than its neighbours
		}
		msg := "routine event"
		if i%7 == 0 {
			msg = "document shared with external recipient"
		}
		recs = append(recs, record.Record{ID: fmt.Sprintf("r%04d", i), Timestamp: ts, Level: record.LevelInfo,
			TenantID: []string{"acme", "globex"}[i%2], Message: msg, UserID: fmt.Sprintf("u%d", i%5)})
	}
	for start := 0; start < len(recs); start += 50 {
		_, err := s.Insert(context.Background(), "", recs[start:start+50])
		require.NoError(t, err)
	}
	ctx := context.Background()
	for _, f := range []store.Filter{
		{Text: "external recipient"},
		{Text: "external recipient", TenantID: "acme"},
		{Text: "external recipient", TenantID: "globex", UserID: "u3"},
		{Text: "routine", Start: base.Add(2 * time.Hour), End: base.Add(9 * time.Hour)},
	} {
		for _, limit := range []int{1, 7, 100} {
			var got []string
			p := store.Page{Limit: limit}
			for pages := 0; ; pages++ {
				require.LessOrEqual(t, pages, 1000, "pagination does not end")
				res, err := s.Query(ctx, f, p)
				require.NoError(t, err)
				for _, r := range res.Records {
					got = append(got, r.ID)
				}
				if res.NextCursor == "" {
					break
				}
				p.Cursor = res.NextCursor
			}
			want := allMatches(t, s, f)
			require.True(t, slices.Equal(got, want), "%+v, pages of %d: %d ids %v...; reading every match gives %d ids %v...",
				f, limit, len(got), head(got), len(want), head(want))
			require.NotEmpty(t, want, "%+v matched nothing: the test proves nothing", f)
		}
	}
}

// allMatches answers f the slow, obvious way: every match, sorted newest first.
func allMatches(t *testing.T, s *Store, f store.Filter) []string {
	t.Helper()
	match, err := ftsQuery(f.Text)
	require.NoError(t, err)
	p := store.Page{Limit: store.MaxLimit}
	var out []string
	for {
		query, args, err := buildQuery(f, match, false, p, nil)
		require.NoError(t, err)
		recs, err := s.selectRecords(context.Background(), query, args, 0)
		require.NoError(t, err)
		n := min(len(recs), p.EffectiveLimit())
		for _, r := range recs[:n] {
			out = append(out, r.ID)
		}
		if len(recs) <= p.EffectiveLimit() {
			return out
		}
		last := recs[n-1]
		p.Cursor = store.Cursor{TimestampNanos: last.Timestamp.UnixNano(), ID: last.ID}.Encode()
	}
}

func head(ids []string) []string { return ids[:min(5, len(ids))] }
