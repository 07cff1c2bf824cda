package clickhousestore

import (
	"context"
	"fmt"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Query returns one page of records matching f, newest first, with a keyset cursor over
// (timestamp, id): the next page starts strictly after the last record returned, so records
// inserted meanwhile never shift it.
func (s *Store) Query(ctx context.Context, f store.Filter, p store.Page) (store.Result, error) {
	cursor, ok, err := store.DecodeCursor(p.Cursor)
	if err != nil {
		return store.Result{}, err
	}
	d, err := s.dialect(ctx)
	if err != nil {
		return store.Result{}, fmt.Errorf("clickhousestore: query: %w", err)
	}
	var after *store.Cursor
	if ok {
		after = &cursor
	}
	limit := p.EffectiveLimit()
	sql, err := d.querySQL(f, after, limit)
	if err != nil {
		return store.Result{}, err
	}
	recs, err := s.selectRecords(ctx, sql)
	if err != nil {
		return store.Result{}, fmt.Errorf("clickhousestore: query: %w", err)
	}
	res := store.Result{Records: recs}
	if len(recs) > limit {
		res.Records = recs[:limit]
		last := res.Records[limit-1]
		res.NextCursor = store.Cursor{TimestampNanos: encodedNanos(last.Timestamp), ID: last.ID}.Encode()
	}
	if res.Records == nil {
		res.Records = []record.Record{}
	}
	return res, nil
}

// encodedNanos is the stored form of a read-back timestamp (the zero time is 0).
func encodedNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Get returns the record with id, of tenant ("" looks across tenants).
func (s *Store) Get(ctx context.Context, tenant, id string) (record.Record, error) {
	d, err := s.dialect(ctx)
	if err != nil {
		return record.Record{}, fmt.Errorf("clickhousestore: get %q: %w", id, err)
	}
	recs, err := s.selectRecords(ctx, d.getSQL(tenant, id))
	if err != nil {
		return record.Record{}, fmt.Errorf("clickhousestore: get %q: %w", id, err)
	}
	switch {
	case len(recs) == 0:
		return record.Record{}, fmt.Errorf("clickhousestore: get %q: %w", id, store.ErrNotFound)
	case len(recs) > 1 && recs[0].TenantID != recs[1].TenantID:
		return record.Record{}, fmt.Errorf("clickhousestore: get %q: %w", id, store.ErrAmbiguousID)
	}
	return recs[0], nil
}

// Trace returns the records of a trace, oldest first (at most maxTraceRecords).
func (s *Store) Trace(ctx context.Context, tenant, traceID string) ([]record.Record, error) {
	d, err := s.dialect(ctx)
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: trace %q: %w", traceID, err)
	}
	recs, err := s.selectRecords(ctx, d.traceSQL(tenant, traceID))
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: trace %q: %w", traceID, err)
	}
	if recs == nil {
		recs = []record.Record{}
	}
	return recs, nil
}

func (s *Store) selectRecords(ctx context.Context, sql string) ([]record.Record, error) {
	rows, err := s.conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// scanRecord reads one row selected with selectColumns, then extra columns into extra. Tags,
// Attributes and Resource are never nil, so that an API renders [] and {} rather than null.
func scanRecord(rs rows, extra ...any) (record.Record, error) {
	var (
		r               record.Record
		ts, observed    int64
		level           uint8
		status          int64
		tags            []string
		attrs, resource string
	)
	dest := []any{&r.ID, &r.TenantID, &ts, &observed, &level, &r.SeverityText, &r.SeverityNumber,
		&r.Event, &r.Message, &r.UserID, &r.Username, &r.CompanyID, &r.EmployeeID, &r.ActorID, &r.EntityID,
		&r.EntityType, &r.IPAddress, &r.UserAgent, &r.GeoCountry, &r.GeoCity, &r.Method, &r.Path, &status,
		&r.DurationMS, &r.TraceID, &r.SpanID, &r.ServiceName, &r.Scope, &tags, &attrs, &resource}
	err := rs.Scan(append(dest, extra...)...)
	if err != nil {
		return record.Record{}, fmt.Errorf("scan: %w", err)
	}
	r.Timestamp = decodeTime(ts)
	r.ObservedTimestamp = decodeTime(observed)
	r.Level = record.Level(level)
	r.StatusCode = int(status)
	r.Tags = tags
	if r.Tags == nil {
		r.Tags = []string{}
	}
	// A part that does not decode is flagged, not fatal: one bad row must not fail a page.
	if r.Attributes, err = record.DecodeObject(attrs); err != nil {
		r.Attributes = map[string]any{}
		r.FlagUnreadable("attributes", err)
	}
	if r.Resource, err = record.DecodeObject(resource); err != nil {
		r.Resource = map[string]any{}
		r.FlagUnreadable("resource", err)
	}
	return r, nil
}
