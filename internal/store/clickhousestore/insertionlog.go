package clickhousestore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

var _ store.InsertionLog = (*Store)(nil)

// InsertedAfter lists records in the order they were written, by insert_version (Insert stamps
// a batch with max(uint64) minus its write time in ns, so ascending write time is descending
// version). It needs no schema change: every row of both layouts carries the column. Rows
// with no version (0) were written by no Insert and are left out.
//
// Without FINAL: a follower dedupes by id anyway, and FINAL over the whole table on every poll
// would cost a merge of every part.
func (s *Store) InsertedAfter(ctx context.Context, p store.Position, limit int) ([]store.Inserted, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	d, err := s.dialect(ctx)
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: inserted after %s: %w", p.At.Format(time.RFC3339Nano), err)
	}
	rows, err := s.conn.Query(ctx, d.insertedAfterSQL(p, limit))
	if err != nil {
		return nil, fmt.Errorf("clickhousestore: inserted after %s: %w", p.At.Format(time.RFC3339Nano), err)
	}
	defer rows.Close()
	var out []store.Inserted
	for rows.Next() {
		var version uint64
		r, err := scanRecord(rows, &version)
		if err != nil {
			return nil, fmt.Errorf("clickhousestore: inserted after: %w", err)
		}
		out = append(out, store.Inserted{Record: r, InsertedAt: time.Unix(0, int64(math.MaxUint64-version)).UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhousestore: inserted after: %w", err)
	}
	return out, nil
}

// insertedAfterSQL is the keyset page of InsertedAfter. Tuple comparison is spelled out: the
// legacy server (18.16) is not trusted with it.
func (d dialect) insertedAfterSQL(p store.Position, limit int) string {
	v := strconv.FormatUint(insertVersion(p.At), 10)
	t, id := quoteString(p.Tenant), quoteString(p.ID)
	return "SELECT " + d.selectColumns() + ", insert_version FROM " + d.logs() +
		" WHERE insert_version > 0 AND (insert_version < " + v +
		" OR (insert_version = " + v + " AND (tenant_id > " + t + " OR (tenant_id = " + t + " AND id > " + id + "))))" +
		" ORDER BY insert_version DESC, tenant_id, id LIMIT " + strconv.Itoa(limit)
}
