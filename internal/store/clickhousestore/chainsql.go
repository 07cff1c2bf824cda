package clickhousestore

import (
	"encoding/hex"
	"strconv"
	"time"
)

// The chain's tables sit next to the logs table and share its name, as <table>_schema does,
// so that two stores in one database (two tables) keep two sets of chains.
func (d dialect) chain() string       { return d.qualified(d.table + "_chain") }
func (d dialect) checkpoints() string { return d.qualified(d.table + "_checkpoints") }
func (d dialect) chainStart() string  { return d.qualified(d.table + "_chain_start") }

// plainEngine is MergeTree, replicated on a cluster. The chain's tables must not be
// ReplacingMergeTree: a second link with the same seq (two writers forking a tenant's chain,
// or tampering) has to stay visible, so that verify reports it, not be merged away.
func (d dialect) plainEngine(table string) string {
	if d.cluster == "" {
		return "MergeTree()"
	}
	return "ReplicatedMergeTree(" + d.replicatedArgs(table) + ")"
}

// createChain is one row per link (chain.Link). ORDER BY (tenant_id, seq) makes a page of a
// tenant's links, and the link at a given seq, one range of the primary key. timestamp is the
// record's, in Unix nanoseconds (Int64 in both layouts: exact, and compared as such with the
// logs table's timestamp by Unchained). The hashes are raw 32-byte digests.
func (d dialect) createChain() string {
	tenant, id, idx := "String", "String", ""
	if d.modern() {
		// The bloom filter answers Insert's "which of these stored records are linked" without
		// reading every record_id of the tenant; the legacy server has no skip indexes.
		tenant, id = "LowCardinality(String)", "String CODEC(ZSTD(1))"
		idx = ",\n    INDEX idx_record_id record_id TYPE bloom_filter(0.001) GRANULARITY 1"
	}
	return "CREATE TABLE IF NOT EXISTS " + d.qualified(d.local(d.table+"_chain")) + d.onCluster() + " (\n" +
		"    tenant_id " + tenant + ",\n" +
		"    seq UInt64,\n" +
		"    record_id " + id + ",\n" +
		"    timestamp Int64,\n" +
		"    level UInt8,\n" +
		"    record_hash FixedString(32),\n" +
		"    hash FixedString(32)" + idx + "\n" +
		") ENGINE = " + d.plainEngine(d.local(d.table+"_chain")) + "\nORDER BY (tenant_id, seq)"
}

// createCheckpoints keeps each checkpoint as its JSON document (chain.Checkpoint's form), with
// the columns reads select and order by beside it. time is Unix nanoseconds.
func (d dialect) createCheckpoints() string {
	name := d.local(d.table + "_checkpoints")
	return "CREATE TABLE IF NOT EXISTS " + d.qualified(name) + d.onCluster() +
		" (tenant_id String, seq UInt64, time Int64, document String) ENGINE = " +
		d.plainEngine(name) + " ORDER BY (tenant_id, seq, time)"
}

// createChainStart holds when this store began chaining (Unix nanoseconds of the first chained
// Insert); Unchained requires a link of every record written since (see unchainedSQL).
func (d dialect) createChainStart() string {
	name := d.local(d.table + "_chain_start")
	return "CREATE TABLE IF NOT EXISTS " + d.qualified(name) + d.onCluster() +
		" (started_at Int64) ENGINE = " + d.plainEngine(name) + " ORDER BY started_at"
}

// linkColumns are the columns scanLink reads and insertLinksSQL writes, in order.
const linkColumns = "seq, record_id, timestamp, level, record_hash, hash"

func (d dialect) insertLinksSQL() string {
	return "INSERT INTO " + d.chain() + " (tenant_id, " + linkColumns + ")"
}

// chainHeadSeqSQL is the tenant's highest seq, 0 without links. A separate step from reading
// that link: the legacy server cannot stop an ORDER BY seq DESC LIMIT 1 early, and would read
// every column of every link of the tenant, where max(seq) reads one column.
func (d dialect) chainHeadSeqSQL(tenant string) string {
	return "SELECT max(seq) FROM " + d.chain() + " WHERE tenant_id = " + quoteString(tenant)
}

// chainLinksSQL is a page of the tenant's links from..to, in seq order. Links sharing a seq (a
// fork) come out in hash order, so that pages are deterministic.
func (d dialect) chainLinksSQL(tenant string, from, to uint64, limit int) string {
	return "SELECT " + linkColumns + " FROM " + d.chain() + " WHERE tenant_id = " + quoteString(tenant) +
		" AND seq >= " + strconv.FormatUint(from, 10) + " AND seq <= " + strconv.FormatUint(to, 10) +
		" ORDER BY seq, hash LIMIT " + strconv.Itoa(limit)
}

// linkedIDsSQL finds which ids of set (idsTable, or literalSet) are on the tenant's chain.
func (d dialect) linkedIDsSQL(tenant, set string) string {
	return "SELECT DISTINCT record_id FROM " + d.chain() + " WHERE tenant_id = " + quoteString(tenant) +
		" AND record_id IN " + set
}

// chainRecordsSQL reads the records of a page of links by id, in every tenant (a record moved
// to another tenant must be seen as such), through FINAL (as every read). The page's links give
// their records' timestamps, so the lookup is bounded by the page's span [lo, hi]: on the sort
// key's timestamp, and on the legacy layout also on Timestamp, the partition key's column, so
// that the server skips months outside the span. A record whose timestamp no longer equals its
// link's is outside that span only if it was changed, and then reads as absent; Unchained
// reports such a row (its (id, timestamp) is on no link).
func (d dialect) chainRecordsSQL(ids []string, lo, hi int64) string {
	lower, upper := d.timeRange()
	lo = clampTime(time.Unix(0, lo), lower, upper).UnixNano()
	hi = clampTime(time.Unix(0, hi), lower, upper).UnixNano()
	conds := []string{d.tsColumn() + " >= " + d.tsLiteral(lo), d.tsColumn() + " <= " + d.tsLiteral(hi)}
	if !d.modern() {
		conds = append(conds,
			"Timestamp >= toDateTime("+strconv.FormatInt(floorDiv(lo, int64(time.Second)), 10)+")",
			"Timestamp <= toDateTime("+strconv.FormatInt(floorDiv(hi, int64(time.Second)), 10)+")")
	}
	conds = append(conds, "id IN ("+quoteStrings(ids)+")")
	return "SELECT " + d.selectColumns() + " FROM " + d.final() + d.finalWhere(conds)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// unchainedSQL lists the tenant's rows written at or after the chain's start whose (id,
// timestamp) is on none of the tenant's links: rows written around the store, or a record
// whose timestamp was changed. "Written at or after" reads insert_version, which Insert sets
// to max(uint64) minus the write time in ns, so the rows are those with insert_version <=
// maxVersion (insertVersion of the start); a row with no version (0) counts as written now.
// No FINAL: every physical row must be accounted for, and an edited copy of a linked record
// (same id and timestamp) is still on its link. On a distributed store each shard runs the
// query over its own rows, so the links come from the shard's local table (a Distributed one
// in the subquery is refused: distributed_product_mode = deny): a tenant's links are on the
// shard of its records, by the common sharding key.
func (d dialect) unchainedSQL(tenant string, maxVersion uint64, limit int) string {
	return "SELECT id FROM " + d.logs() + " WHERE tenant_id = " + quoteString(tenant) +
		" AND insert_version <= " + strconv.FormatUint(maxVersion, 10) +
		" AND (id, " + d.tsExpr() + ") NOT IN (SELECT record_id, timestamp FROM " + d.qualified(d.local(d.table+"_chain")) +
		" WHERE tenant_id = " + quoteString(tenant) + ")" +
		" ORDER BY " + d.tsColumn() + ", id LIMIT " + strconv.Itoa(limit)
}

func (d dialect) chainTenantsSQL() string {
	return "SELECT DISTINCT tenant_id FROM " + d.chain() + " ORDER BY tenant_id"
}

func (d dialect) insertCheckpointSQL() string {
	return "INSERT INTO " + d.checkpoints() + " (tenant_id, seq, time, document)"
}

func (d dialect) checkpointsSQL(tenant string) string {
	return "SELECT document FROM " + d.checkpoints() + " WHERE tenant_id = " + quoteString(tenant) + " ORDER BY seq, time"
}

// chainStartSQL is the earliest recorded start and how many starts there are (0: chaining
// never began). Two processes starting at once may both record one; the earliest holds.
func (d dialect) chainStartSQL() string {
	return "SELECT min(started_at), count() FROM " + d.chainStart()
}

func (d dialect) insertChainStartSQL() string {
	return "INSERT INTO " + d.chainStart() + " (started_at)"
}

// hashLiteral is a digest as a FixedString(32) literal, for the VALUES of ModernStatements.
func hashLiteral(h []byte) string {
	return "toFixedString(unhex('" + hex.EncodeToString(h) + "'), 32)"
}
