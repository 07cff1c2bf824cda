package clickhousestore

import (
	"context"
	"fmt"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Stats answers q with three aggregate queries over the same range: top events, top users and
// the histogram by bucket and level, whose rows also give the totals by level. The histogram's
// empty buckets are filled in here.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	q, err := q.Normalize()
	if err != nil {
		return store.Stats{}, err
	}
	d, err := s.dialect(ctx)
	if err != nil {
		return store.Stats{}, fmt.Errorf("clickhousestore: stats: %w", err)
	}
	st := store.Stats{ByLevel: store.LevelCounts(), Histogram: q.EmptyHistogram()}

	if st.TopEvents, err = s.topCounts(ctx, d.statsTopSQL(q, "EventName")); err != nil {
		return store.Stats{}, fmt.Errorf("clickhousestore: stats: top events: %w", err)
	}
	if st.TopUsers, err = s.topCounts(ctx, d.statsTopSQL(q, "user_id")); err != nil {
		return store.Stats{}, fmt.Errorf("clickhousestore: stats: top users: %w", err)
	}

	rows, err := s.conn.Query(ctx, d.statsHistogramSQL(q))
	if err != nil {
		return store.Stats{}, fmt.Errorf("clickhousestore: stats: histogram: %w", err)
	}
	defer rows.Close()
	first := q.BucketStart(q.Start)
	for rows.Next() {
		var bucket int64
		var level uint8
		var n uint64
		if err := rows.Scan(&bucket, &level, &n); err != nil {
			return store.Stats{}, fmt.Errorf("clickhousestore: stats: histogram: %w", err)
		}
		if bucket < 0 || bucket >= int64(len(st.Histogram)) {
			return store.Stats{}, fmt.Errorf("clickhousestore: stats: histogram: bucket %d of %s outside the %d buckets from %s",
				bucket, q.Interval, len(st.Histogram), first.Format(time.RFC3339Nano))
		}
		l, b := record.Level(level), &st.Histogram[bucket]
		b.Count += int64(n)
		b.ByLevel[l.String()] += int64(n)
		st.ByLevel[l.String()] += int64(n)
		st.Total += int64(n)
		if store.IsFailure(l) {
			b.Failures += int64(n)
			st.Failures += int64(n)
		}
	}
	if err := rows.Err(); err != nil {
		return store.Stats{}, fmt.Errorf("clickhousestore: stats: histogram: %w", err)
	}
	return st, nil
}

func (s *Store) topCounts(ctx context.Context, sql string) ([]store.Count, error) {
	rows, err := s.conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Count{}
	for rows.Next() {
		var key string
		var n uint64
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		out = append(out, store.Count{Key: key, Count: int64(n)})
	}
	return out, rows.Err()
}
