package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

const (
	selectRecords = "SELECT " + columnList + " FROM audit_logs"

	// Across tenants, two rows tell an ambiguous id from a unique one.
	getByID          = selectRecords + " WHERE id = ? LIMIT 2"
	getByIDAndTenant = selectRecords + " WHERE id = ? AND tenant_id = ?"

	// The "trace_id <> ''" term lets SQLite use the partial index audit_logs_trace. The unary
	// + keeps the tenant's indexes out of the plan: a trace's few rows are found by its id, and
	// a tenant term the planner weighs against sampled indexes would make the cached
	// statement compile again at every call (see optimize).
	traceRecords          = selectRecords + " WHERE trace_id = ? AND trace_id <> '' ORDER BY timestamp, id"
	traceRecordsForTenant = selectRecords + " WHERE trace_id = ? AND trace_id <> '' AND +tenant_id = ? ORDER BY timestamp, id"
)

// searchFirstBelow decides how a text search runs. A word found in fewer rows than this is
// looked up first and its rows sorted by time (cost: its matches). A more common word is
// checked while walking the time index (cost: the rows walked until a page is full), which
// avoids sorting a large share of the table for one page. SQLite keeps no statistics on FTS5
// terms, so Query counts the matches, up to this bound, and picks.
const searchFirstBelow = 5000

const countMatches = `SELECT count(*) FROM (SELECT 1 FROM audit_fts WHERE audit_fts MATCH ? LIMIT ?)`

// Query returns one page of records matching f, newest first.
func (s *Store) Query(ctx context.Context, f store.Filter, p store.Page) (store.Result, error) {
	match, err := ftsQuery(f.Text)
	if err != nil {
		return store.Result{}, fmt.Errorf("sqlitestore: query: %w", err)
	}
	searchFirst := false
	if match != "" {
		var n int
		if err := s.read.QueryRowContext(ctx, countMatches, match, s.searchFirstBelow).Scan(&n); err != nil {
			return store.Result{}, fmt.Errorf("sqlitestore: query: count matches: %w", classifySearchError(err))
		}
		searchFirst = n < s.searchFirstBelow
	}
	limit := p.EffectiveLimit()
	var recs []record.Record
	if match != "" && !searchFirst {
		recs, err = s.searchCommonWords(ctx, f, match, p)
	} else {
		var query string
		var args []any
		if query, args, err = buildQuery(f, match, searchFirst, p, nil); err != nil {
			return store.Result{}, err
		}
		recs, err = s.selectRecords(ctx, query, args, limit+1)
	}
	if err != nil {
		if match != "" {
			err = classifySearchError(err)
		}
		return store.Result{}, fmt.Errorf("sqlitestore: query: %w", err)
	}
	var res store.Result
	if len(recs) > limit {
		// The extra row only proves that another page exists; the cursor points after the
		// last row returned, not after the extra one.
		recs = recs[:limit]
		last := recs[limit-1]
		res.NextCursor = store.Cursor{TimestampNanos: last.Timestamp.UnixNano(), ID: last.ID}.Encode()
	}
	res.Records = recs
	return res, nil
}

// buildQuery renders f and p as one SELECT with every value bound; match is f.Text already
// translated by ftsQuery. For a filter on a tenant, two levels, a time range and common words,
// after a cursor, it reads:
//
//	SELECT id, timestamp, ... FROM audit_logs
//	WHERE tenant_id = ? AND level IN (?, ?) AND timestamp >= ? AND timestamp < ?
//	  AND +seq IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ?)
//	  AND (timestamp, id) < (?, ?)
//	ORDER BY timestamp DESC, id DESC LIMIT ?
//
// The row-value comparison is the keyset condition: it is a range of every index that ends in
// (timestamp, id), so a page costs its own rows whatever its depth.
//
// With searchFirst (rare words), the matches are materialized and drive the join; CROSS JOIN
// is SQLite's way of fixing the join order:
//
//	WITH hits (seq) AS MATERIALIZED (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ?)
//	SELECT id, timestamp, ... FROM hits CROSS JOIN audit_logs USING (seq)
//	WHERE tenant_id = ? AND ...
//	ORDER BY timestamp DESC, id DESC LIMIT ?
//
// With a window (common words, see searchCommonWords), the full-text term only looks at the
// rows of the window: matches whose rowid lies in its seq span, and rows no older than its
// oldest row.
func buildQuery(f store.Filter, match string, searchFirst bool, p store.Page, w *searchWindow) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	cond := func(sql string, values ...any) {
		where = append(where, sql)
		args = append(args, values...)
	}

	if f.TenantID != "" {
		cond("tenant_id = ?", f.TenantID)
	}
	if len(f.Levels) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(f.Levels)), ", ")
		values := make([]any, len(f.Levels))
		for i, l := range f.Levels {
			values[i] = int64(l)
		}
		cond("level IN ("+marks+")", values...)
	}
	if f.MinLevel != 0 {
		cond("level >= ?", int64(f.MinLevel))
	}
	if f.Event != "" {
		cond("event = ?", f.Event)
	}
	if f.UserID != "" {
		cond("user_id = ?", f.UserID)
	}
	if f.ActorID != "" {
		cond("actor_id = ?", f.ActorID)
	}
	if f.EntityID != "" {
		cond("entity_id = ?", f.EntityID)
	}
	if f.EntityType != "" {
		cond("entity_type = ?", f.EntityType)
	}
	if f.CompanyID != "" {
		// The "<> ''" term, implied by the value, lets SQLite use the partial index
		// audit_logs_company (as for trace_id below).
		cond("company_id = ? AND company_id <> ''", f.CompanyID)
	}
	if f.EmployeeID != "" {
		cond("employee_id = ?", f.EmployeeID)
	}
	if f.Scope != "" {
		cond("scope = ?", f.Scope)
	}
	if f.ServiceName != "" {
		cond("service_name = ?", f.ServiceName)
	}
	for _, tag := range f.Tags {
		// tags is a JSON array of strings; an element must equal the tag, not contain it.
		cond("EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)", tag)
	}
	if f.TraceID != "" {
		cond("trace_id = ? AND trace_id <> ''", f.TraceID)
	}
	if f.IP != "" {
		cond("ip_address = ? AND ip_address <> ''", f.IP)
	}
	if !f.Start.IsZero() {
		cond("timestamp >= ?", clampNanos(f.Start))
	}
	if !f.End.IsZero() {
		cond("timestamp < ?", clampNanos(f.End))
	}
	if match != "" && w != nil {
		cond("+seq IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ? AND rowid BETWEEN ? AND ?)", match, w.lo, w.hi)
		if w.full {
			cond("(timestamp, id) >= (?, ?)", w.oldest.TimestampNanos, w.oldest.ID)
		}
	} else if match != "" && !searchFirst {
		// The unary + keeps SQLite from using the term to look rows up by seq: with planner
		// statistics it would otherwise fetch every match by rowid and sort them all (572 ms
		// against 62 ms for a common word on 1M rows), which is the plan searchFirst chooses
		// explicitly when, and only when, the matches are few.
		cond("+seq IN (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ?)", match)
	}
	cursor, ok, err := store.DecodeCursor(p.Cursor)
	if err != nil {
		return "", nil, fmt.Errorf("sqlitestore: query: cursor: %w", err)
	}
	if ok {
		cond("(timestamp, id) < (?, ?)", cursor.TimestampNanos, cursor.ID)
	}

	var b strings.Builder
	if match != "" && searchFirst {
		b.WriteString("WITH hits (seq) AS MATERIALIZED (SELECT rowid FROM audit_fts WHERE audit_fts MATCH ?) ")
		b.WriteString("SELECT " + columnList + " FROM hits CROSS JOIN audit_logs USING (seq)")
		args = append([]any{match}, args...)
	} else {
		b.WriteString(selectRecords)
	}
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY timestamp DESC, id DESC LIMIT ?")
	args = append(args, p.EffectiveLimit()+1)
	return b.String(), args, nil
}

// searchWindow is the newest rows of a filter without its text term: their seq span and,
// when the window is full, its oldest row.
type searchWindow struct {
	lo, hi int64
	full   bool
	oldest store.Cursor
}

// Window sizes of searchCommonWords: the first, and the largest before it gives up on windows.
const (
	firstSearchWindow = 4096
	lastSearchWindow  = 1 << 20
)

// searchCommonWords serves a page of a search for common words without reading every match.
// Materializing all the matches (1.7M rowids for two common words on 10M rows) cost about a
// second; reading the matches of one rowid range costs milliseconds. So it takes the newest
// rows of the filter without its text term (a window, walked on the time index), and looks
// for matches only among them, through the seq span of the window. If the window holds a
// full page of matches, that page is exact: every row newer than the window's oldest row is in
// the window. Otherwise the window grows eightfold, up to lastSearchWindow, and then the
// search reads every match as before.
func (s *Store) searchCommonWords(ctx context.Context, f store.Filter, match string, p store.Page) ([]record.Record, error) {
	limit := p.EffectiveLimit()
	for size := s.searchWindowRows; size <= lastSearchWindow; size *= 8 {
		w, n, err := s.window(ctx, f, p, size)
		if err != nil || n == 0 {
			return nil, err
		}
		query, args, err := buildQuery(f, match, false, p, &w)
		if err != nil {
			return nil, err
		}
		recs, err := s.selectRecords(ctx, query, args, limit+1)
		if err != nil || len(recs) > limit || !w.full {
			return recs, err
		}
	}
	query, args, err := buildQuery(f, match, false, p, nil)
	if err != nil {
		return nil, err
	}
	return s.selectRecords(ctx, query, args, limit+1)
}

// window reads the seq span of the newest size rows of f after p's cursor, their number, and,
// when there are size of them, the oldest one.
func (s *Store) window(ctx context.Context, f store.Filter, p store.Page, size int) (searchWindow, int, error) {
	rows, args, err := buildQuery(f, "", false, p, nil)
	if err != nil {
		return searchWindow{}, 0, err
	}
	// The same SELECT without its columns and with the window's LIMIT in place of the page's.
	rows = strings.Replace(rows, "SELECT "+columnList+" FROM audit_logs", "SELECT seq, timestamp, id FROM audit_logs", 1)
	args[len(args)-1] = size
	var (
		w      searchWindow
		n      int
		lo, hi sql.NullInt64
	)
	if err := s.read.QueryRowContext(ctx, "SELECT count(*), min(seq), max(seq) FROM ("+rows+")", args...).Scan(&n, &lo, &hi); err != nil {
		return w, 0, err
	}
	w.lo, w.hi, w.full = lo.Int64, hi.Int64, n == size
	if w.full {
		last := strings.Replace(rows, " LIMIT ?", " LIMIT 1 OFFSET ?", 1)
		args[len(args)-1] = size - 1
		if err := s.read.QueryRowContext(ctx, "SELECT timestamp, id FROM ("+last+")", args...).Scan(&w.oldest.TimestampNanos, &w.oldest.ID); err != nil {
			return w, 0, err
		}
	}
	return w, n, nil
}

// clampNanos is t in Unix nanoseconds, clamped to what int64 holds, so a bound far in the past
// or future still compares correctly with every stored timestamp.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Get returns the record with id; tenant "" looks across tenants. A record of another tenant
// is reported as absent, not as forbidden, so ids cannot be probed across tenants.
func (s *Store) Get(ctx context.Context, tenant, id string) (record.Record, error) {
	if tenant == "" {
		recs, err := s.selectRecords(ctx, getByID, []any{id}, 2)
		switch {
		case err != nil:
			return record.Record{}, fmt.Errorf("sqlitestore: get %q: %w", id, err)
		case len(recs) == 0:
			return record.Record{}, fmt.Errorf("sqlitestore: get %q: %w", id, store.ErrNotFound)
		case len(recs) > 1:
			return record.Record{}, fmt.Errorf("sqlitestore: get %q: %w", id, store.ErrAmbiguousID)
		}
		return recs[0], nil
	}
	r, err := scanRecord(s.read.QueryRowContext(ctx, getByIDAndTenant, id, tenant))
	if errors.Is(err, sql.ErrNoRows) {
		return record.Record{}, fmt.Errorf("sqlitestore: get %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return record.Record{}, fmt.Errorf("sqlitestore: get %q: %w", id, err)
	}
	return r, nil
}

// Trace returns every record of one trace, oldest first; tenant "" looks across tenants.
// An unknown trace is an empty result, not an error.
func (s *Store) Trace(ctx context.Context, tenant, traceID string) ([]record.Record, error) {
	if traceID == "" {
		return nil, fmt.Errorf("sqlitestore: trace: %w: trace id is empty", store.ErrInvalidQuery)
	}
	query, args := traceRecords, []any{traceID}
	if tenant != "" {
		query, args = traceRecordsForTenant, []any{traceID, tenant}
	}
	st, err := s.readStatement(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: trace %q: %w", traceID, err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: trace %q: %w", traceID, err)
	}
	recs, err := scanRecords(rows, 0)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: trace %q: %w", traceID, err)
	}
	return recs, nil
}

// readStatement is query prepared on the read pool, kept until Close.
func (s *Store) readStatement(ctx context.Context, query string) (*sql.Stmt, error) {
	s.reads.mu.Lock()
	if s.reads.db == nil {
		s.reads.db = s.read
	}
	s.reads.mu.Unlock()
	return s.reads.prepare(ctx, query)
}

// selectRecords runs query on the read pool and scans every row; sizeHint preallocates.
func (s *Store) selectRecords(ctx context.Context, query string, args []any, sizeHint int) ([]record.Record, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanRecords(rows, sizeHint)
}

// scanRecords scans every row of rows and closes them; sizeHint preallocates.
func scanRecords(rows *sql.Rows, sizeHint int) ([]record.Record, error) {
	defer rows.Close()
	recs := make([]record.Record, 0, sizeHint)
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return recs, nil
}
