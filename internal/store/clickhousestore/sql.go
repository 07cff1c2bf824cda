package clickhousestore

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Every read statement is complete SQL text with its values as literals: the same string runs
// on the server, appears in logs and errors, and is what the chDB check (ModernStatements)
// executes. Values are quoted by quoteString; identifiers come from a validated config.

// quoteString renders s as a ClickHouse string literal. Inside '...' ClickHouse treats
// backslash as an escape character, so both it and the quote are escaped; every other byte
// (NUL and invalid UTF-8 included) stands for itself.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// idsTable is the table of ids that QueryIDs sends with a statement; a statement names it as
// the right side of IN ("id IN batch_ids"). A statement that must stand alone as text (the
// statement list, ModernStatements) has literalSet in its place.
const idsTable = "batch_ids"

// literalSet is ids as the literal right side of IN.
func literalSet(ids []string) string { return "(" + quoteStrings(ids) + ")" }

func quoteStrings(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = quoteString(s)
	}
	return strings.Join(parts, ", ")
}

// final is the table as reads see it: FINAL collapses rows of the same (tenant, timestamp, id)
// that merges have not yet collapsed, keeping the first write (highest insert_version).
// Insert's id check keeps such rows rare (concurrent writers replaying the same record), so
// FINAL mostly has nothing to do; it is there so that reads are right before merges too.
func (d dialect) final() string { return d.logs() + " FINAL" }

// filterConditions renders every field of f (but Text, see searchCondition) as ANDed
// conditions; nil for the zero Filter.
func (d dialect) filterConditions(f store.Filter) []string {
	var conds []string
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = "+quoteString(v))
		}
	}
	eq("tenant_id", f.TenantID)
	if len(f.Levels) > 0 {
		conds = append(conds, "level IN ("+levelsSQL(f.Levels)+")")
	}
	if f.MinLevel != 0 {
		conds = append(conds, fmt.Sprintf("level >= %d", f.MinLevel))
	}
	eq("EventName", f.Event)
	eq("user_id", f.UserID)
	eq("actor_id", f.ActorID)
	eq("entity_id", f.EntityID)
	eq("entity_type", f.EntityType)
	eq("company_id", f.CompanyID)
	eq("employee_id", f.EmployeeID)
	eq("ScopeName", f.Scope)
	eq("ServiceName", f.ServiceName)
	eq("TraceId", f.TraceID)
	eq("ip_address", f.IP)
	// has() is an exact element match, on every server version; one per tag, since all must
	// be present.
	for _, tag := range f.Tags {
		conds = append(conds, "has(tags, "+quoteString(tag)+")")
	}
	conds = append(conds, d.timeRangeConditions(f.Start, f.End)...)
	return conds
}

// timeRangeConditions is [start, end) with zero bounds left open. A bound outside the storable
// range is clamped to it, which selects the same rows.
func (d dialect) timeRangeConditions(start, end time.Time) []string {
	var conds []string
	lo, hi := d.timeRange()
	if !start.IsZero() {
		conds = append(conds, d.tsColumn()+" >= "+d.tsLiteral(clampTime(start, lo, hi).UnixNano()))
	}
	if !end.IsZero() {
		conds = append(conds, d.tsColumn()+" < "+d.tsLiteral(clampTime(end, lo, hi).UnixNano()))
	}
	return conds
}

func clampTime(t, lo, hi time.Time) time.Time {
	switch {
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}

// afterCursor selects the records that come after c in newest-first order.
func (d dialect) afterCursor(c store.Cursor) string {
	ts := d.tsLiteral(c.TimestampNanos)
	return "(" + d.tsColumn() + " < " + ts + " OR (" + d.tsColumn() + " = " + ts + " AND id < " + quoteString(c.ID) + "))"
}

func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// finalWhere is where(conds) after FROM ... FINAL. 18.16 fails FINAL over a Distributed
// table without a WHERE ("Cannot find column tenant_id in source stream": the shards' query
// leaves out the sort key FINAL needs); any WHERE, even WHERE 1, avoids it (measured).
func (d dialect) finalWhere(conds []string) string {
	if len(conds) == 0 && d.distributed {
		return " WHERE 1"
	}
	return where(conds)
}

// querySQL is one page of Query: limit+1 rows, so that the extra row tells a next page exists.
func (d dialect) querySQL(f store.Filter, cursor *store.Cursor, limit int) (string, error) {
	conds := d.filterConditions(f)
	text, err := d.searchCondition(f.Text)
	if err != nil {
		return "", err
	}
	if text != "" {
		conds = append(conds, text)
	}
	if cursor != nil {
		conds = append(conds, d.afterCursor(*cursor))
	}
	return "SELECT " + d.selectColumns() + " FROM " + d.final() + d.finalWhere(conds) +
		" ORDER BY " + d.tsColumn() + " DESC, id DESC LIMIT " + strconv.Itoa(limit+1), nil
}

func (d dialect) getSQL(tenant, id string) string {
	conds := []string{"id = " + quoteString(id)}
	if tenant != "" {
		conds = append(conds, "tenant_id = "+quoteString(tenant))
	}
	// Two rows tell an id that several tenants hold from a unique one.
	return "SELECT " + d.selectColumns() + " FROM " + d.final() + d.finalWhere(conds) + " ORDER BY " + d.tsColumn() + " DESC LIMIT 2"
}

// maxTraceRecords bounds one Trace answer: a runaway trace must not load the server's
// memory or the API's response without limit.
const maxTraceRecords = 10_000

func (d dialect) traceSQL(tenant, traceID string) string {
	conds := []string{"TraceId = " + quoteString(traceID)}
	if tenant != "" {
		conds = append(conds, "tenant_id = "+quoteString(tenant))
	}
	return "SELECT " + d.selectColumns() + " FROM " + d.final() + d.finalWhere(conds) +
		" ORDER BY " + d.tsColumn() + " ASC, id ASC LIMIT " + strconv.Itoa(maxTraceRecords)
}

// existingIDsSQL finds which ids of a batch its tenant stored already: identity is
// (tenant_id, id), so another tenant's record of the same id is no replay. The modern layout
// looks the ids up across the tenant's rows (the id bloom filter skips granules); the legacy
// one has no skip index, so it also narrows the scan to the batch's time span through the
// primary key. A replay carries the same tenant and timestamp as the first write, so it is
// found either way.
//
// set is the ids: idsTable for QueryIDs, or literalSet.
func (d dialect) existingIDsSQL(tenant, set string, minNanos, maxNanos int64) string {
	conds := []string{"tenant_id = " + quoteString(tenant), "id IN " + set}
	if !d.modern() {
		conds = append(conds,
			d.tsColumn()+" >= "+d.tsLiteral(minNanos),
			d.tsColumn()+" <= "+d.tsLiteral(maxNanos))
	}
	return "SELECT DISTINCT id FROM " + d.logs() + where(conds)
}

// Stats statements. Each reads FINAL over [Start, End) of one tenant or all.
func (d dialect) statsConditions(q store.StatsQuery) []string {
	var conds []string
	if q.TenantID != "" {
		conds = append(conds, "tenant_id = "+quoteString(q.TenantID))
	}
	return append(conds, d.timeRangeConditions(q.Start, q.End)...)
}

func (d dialect) statsTopSQL(q store.StatsQuery, col string) string {
	conds := append(d.statsConditions(q), col+" != ''")
	return "SELECT " + col + " AS key, count() AS n FROM " + d.final() + d.finalWhere(conds) +
		" GROUP BY key ORDER BY n DESC, key ASC LIMIT " + strconv.Itoa(q.Top)
}

// statsHistogramSQL counts records per bucket index since the first bucket's start and per
// level (failures are summed from the levels in Go). Every selected timestamp is at or after
// that start, so the index is never negative and intDiv's truncation is a floor.
func (d dialect) statsHistogramSQL(q store.StatsQuery) string {
	first := q.BucketStart(q.Start).UnixNano()
	bucket := fmt.Sprintf("intDiv(%s - %d, %d)", d.tsExpr(), first, int64(q.Interval))
	return "SELECT " + bucket + " AS bucket, level, count() FROM " + d.final() +
		d.finalWhere(d.statsConditions(q)) + " GROUP BY bucket, level"
}

// expiredCondition selects every record older than its level's period at now; "" when no
// level expires.
func (d dialect) expiredCondition(policy store.RetentionPolicy, now time.Time) string {
	var parts []string
	lo, hi := d.timeRange()
	for _, l := range record.Levels {
		period := policy.For(l)
		if period <= 0 {
			continue
		}
		cutoff := clampTime(now.Add(-period), lo, hi)
		parts = append(parts, fmt.Sprintf("(level = %d AND %s < %s)", l, d.tsColumn(), d.tsLiteral(cutoff.UnixNano())))
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

func (d dialect) pruneCountSQL(cond string) string {
	return "SELECT level, count() FROM " + d.final() + " WHERE " + cond + " GROUP BY level"
}

// pruneDeleteSQL is a mutation; the server applies it in the background (waitMutations).
// On the modern layout mutations_sync = 2 makes the statement return once every replica has
// applied it; the legacy server has no such setting: Prune polls system.mutations, and on a
// cluster ZooKeeper for the other replicas (waitMutations).
func (d dialect) pruneDeleteSQL(cond string) string {
	sql := "ALTER TABLE " + d.qualified(d.local(d.table)) + d.onClusterForReplicatedAlter() + " DELETE WHERE " + cond
	if d.modern() {
		sql += " SETTINGS mutations_sync = 2"
	}
	return sql
}

// partitionsSQL lists the logs table's partitions, on every shard of a distributed store.
func (d dialect) partitionsSQL() string {
	return "SELECT DISTINCT partition_id FROM " + d.everyShard("parts") + " WHERE database = " + quoteString(d.db) +
		" AND table = " + quoteString(d.local(d.table)) + " AND active ORDER BY partition_id"
}

// everyShard is the system table on the connected server, or on a distributed store the
// cluster() table function over it: one replica of every shard answers.
func (d dialect) everyShard(systemTable string) string {
	if d.distributed {
		return "cluster(" + quoteString(d.cluster) + ", system." + systemTable + ")"
	}
	return "system." + systemTable
}

func (d dialect) dropPartitionSQL(partitionID string) string {
	return "ALTER TABLE " + d.qualified(d.local(d.table)) + d.onClusterForReplicatedAlter() + " DROP PARTITION ID " + quoteString(partitionID)
}

// onClusterForReplicatedAlter is ON CLUSTER for a DELETE or DROP PARTITION, except on the
// legacy layout's cluster. There an ON CLUSTER statement waits until every server of the
// cluster ran it, so with one replica down retention hung (the driver's read timeout, then
// distributed_ddl_task_timeout). A Replicated table needs none: the replica that runs the
// statement puts it on the table's ZooKeeper log, and every replica of the (single) shard
// applies it; Prune then waits for the replicas that are up (waitReplicas). A distributed
// store's shards are separate tables, so there it is ON CLUSTER on both layouts: with a shard
// down the statement fails (after distributed_ddl_task_timeout) and the next run retries.
func (d dialect) onClusterForReplicatedAlter() string {
	if d.cluster != "" && !d.modern() && !d.distributed {
		return ""
	}
	return d.onCluster()
}

func (d dialect) pendingMutationsSQL() string {
	return "SELECT count() FROM " + d.everyShard("mutations") + " WHERE database = " + quoteString(d.db) +
		" AND table = " + quoteString(d.local(d.table)) + " AND is_done = 0"
}

func (d dialect) schemaVersionSQL() string {
	return "SELECT version, mode FROM " + d.meta() + " ORDER BY version DESC LIMIT 1"
}

// recordVersionSQL prepares the native batch that records the schema version.
func (d dialect) recordVersionSQL() string {
	return "INSERT INTO " + d.meta() + " (version, mode, applied_at)"
}
