package sqlitestore

// migrations is the schema's history. Entry i brings the database from version i to i+1; it is
// never edited once released, only appended to, because databases in the field are at every
// version in between.
var migrations = []migration{
	{version: 1, steps: schemaV1},
	{version: 2, steps: schemaV2},
	{version: 3, steps: schemaV3, backfill: backfillSearchText, then: schemaV3Index},
	{version: 4, steps: schemaV4},
	{version: 5, steps: schemaV5},
	{version: 6, steps: schemaV6, backfill: backfillRollups},
	{version: 7, steps: schemaV7},
	{version: 8, steps: schemaV8, backfill: backfillTagSearchText},
	{version: 9, steps: schemaV9},
}

// schemaV1 is the first schema.
//
// audit_logs is an ordinary rowid table: seq is its INTEGER PRIMARY KEY (an alias of the rowid)
// and id is a UNIQUE column. A WITHOUT ROWID table keyed by id would save the UNIQUE index, but
// the FTS5 table below is external-content and addresses rows by an integer rowid. seq is
// declared rather than left implicit because VACUUM may renumber an implicit rowid, which
// would silently point the full-text index at the wrong rows.
//
// Indexes are few on purpose: the single writer is the embedded path's ceiling and every index
// is written on every insert. Each one serves a query the API makes, newest first, without a
// sort step (they end in timestamp, id so that the keyset condition is a range of the index):
//   - tenant_time: a tenant's listing, with start/end and the cursor.
//   - time: the same for an admin's listing across tenants.
//   - tenant_user_time, tenant_event_time: the two filters the viewer offers first.
//   - trace, ip: lookups of rare values. Partial (only rows that have one), because many audit
//     records carry neither; queries repeat the index's "is not empty" condition so SQLite uses them.
//
// Not indexed: level (five values; an index on it would lure the planner into sorting every
// match, while walking the time index and filtering stops after one page), actor_id and
// entity_id (walked the same way), and company_id (no filter uses it yet). A later migration
// adds them when a measured query needs one.
//
// STRICT makes SQLite reject a value of the wrong type instead of storing it silently.
var schemaV1 = []string{
	`CREATE TABLE audit_logs (
	seq                INTEGER PRIMARY KEY,
	id                 TEXT    NOT NULL UNIQUE,
	timestamp          INTEGER NOT NULL,
	observed_timestamp INTEGER NOT NULL,
	level              INTEGER NOT NULL,
	severity_text      TEXT    NOT NULL DEFAULT '',
	severity_number    INTEGER NOT NULL DEFAULT 0,
	event              TEXT    NOT NULL DEFAULT '',
	message            TEXT    NOT NULL DEFAULT '',
	tenant_id          TEXT    NOT NULL,
	user_id            TEXT    NOT NULL DEFAULT '',
	username           TEXT    NOT NULL DEFAULT '',
	company_id         TEXT    NOT NULL DEFAULT '',
	employee_id        TEXT    NOT NULL DEFAULT '',
	actor_id           TEXT    NOT NULL DEFAULT '',
	entity_id          TEXT    NOT NULL DEFAULT '',
	entity_type        TEXT    NOT NULL DEFAULT '',
	ip_address         TEXT    NOT NULL DEFAULT '',
	user_agent         TEXT    NOT NULL DEFAULT '',
	geo_country        TEXT    NOT NULL DEFAULT '',
	geo_city           TEXT    NOT NULL DEFAULT '',
	method             TEXT    NOT NULL DEFAULT '',
	path               TEXT    NOT NULL DEFAULT '',
	status_code        INTEGER NOT NULL DEFAULT 0,
	duration_ms        REAL,
	trace_id           TEXT    NOT NULL DEFAULT '',
	span_id            TEXT    NOT NULL DEFAULT '',
	service_name       TEXT    NOT NULL DEFAULT '',
	scope              TEXT    NOT NULL DEFAULT '',
	tags               TEXT    NOT NULL DEFAULT '[]',
	attributes         TEXT    NOT NULL DEFAULT '{}',
	resource           TEXT    NOT NULL DEFAULT '{}'
) STRICT`,
	`CREATE INDEX audit_logs_tenant_time ON audit_logs (tenant_id, timestamp, id)`,
	`CREATE INDEX audit_logs_time ON audit_logs (timestamp, id)`,
	`CREATE INDEX audit_logs_tenant_user_time ON audit_logs (tenant_id, user_id, timestamp, id)`,
	`CREATE INDEX audit_logs_tenant_event_time ON audit_logs (tenant_id, event, timestamp, id)`,
	`CREATE INDEX audit_logs_trace ON audit_logs (trace_id, timestamp, id) WHERE trace_id <> ''`,
	`CREATE INDEX audit_logs_ip ON audit_logs (ip_address, timestamp, id) WHERE ip_address <> ''`,

	// The full-text index keeps no copy of the text (content=audit_logs) and no per-row
	// column sizes (columnsize=0: results are ordered by time, never ranked by bm25), which
	// keeps each insert's extra work to the index postings.
	`CREATE VIRTUAL TABLE audit_fts USING fts5(
	message, event, attributes,
	content = 'audit_logs', content_rowid = 'seq',
	columnsize = 0,
	tokenize = 'unicode61 remove_diacritics 2'
)`,
	// Records are immutable, so insert and delete (retention) are what keep the index in step;
	// the update trigger only guards a future migration that rewrites rows.
	`CREATE TRIGGER audit_logs_fts_insert AFTER INSERT ON audit_logs BEGIN
	INSERT INTO audit_fts (rowid, message, event, attributes)
	VALUES (new.seq, new.message, new.event, new.attributes);
END`,
	`CREATE TRIGGER audit_logs_fts_delete AFTER DELETE ON audit_logs BEGIN
	INSERT INTO audit_fts (audit_fts, rowid, message, event, attributes)
	VALUES ('delete', old.seq, old.message, old.event, old.attributes);
END`,
	`CREATE TRIGGER audit_logs_fts_update AFTER UPDATE OF message, event, attributes ON audit_logs BEGIN
	INSERT INTO audit_fts (audit_fts, rowid, message, event, attributes)
	VALUES ('delete', old.seq, old.message, old.event, old.attributes);
	INSERT INTO audit_fts (rowid, message, event, attributes)
	VALUES (new.seq, new.message, new.event, new.attributes);
END`,
}

// schemaV2 makes Stats read indexes only. Stats groups every row of a time range by level,
// event and user; with v1's indexes each row of the range cost a lookup into the table (rows
// of about 1 KiB), and the top lists scanned a tenant's whole event or user index: about 230
// ms for one tenant's day on a 1M-row file. Carrying level, event and user_id in the two time
// indexes turns the three statements into range scans of a covering index (about 10 ms).
//
// The columns are appended to the existing time indexes rather than put in a new index: the
// prefix (tenant_id, timestamp, id) that listings and keyset pages use is unchanged, and the
// writer maintains wider entries instead of one more B-tree per insert. The retention delete
// walks audit_logs_time too, and now finds each row's level there.
//
// On an existing file the rebuild takes about 1.5 s per index per million rows, once, at the
// first start of this version.
var schemaV2 = []string{
	`DROP INDEX audit_logs_tenant_time`,
	`CREATE INDEX audit_logs_tenant_time ON audit_logs (tenant_id, timestamp, id, level, event, user_id)`,
	`DROP INDEX audit_logs_time`,
	`CREATE INDEX audit_logs_time ON audit_logs (timestamp, id, level, event, user_id, tenant_id)`,
}

// schemaV3 narrows what the full-text index sees. Until v2 it indexed the attributes' JSON
// text: every key, number and id of every record, so realistic records (12 to 50 attributes,
// session and request ids) made the index most of the writer's work (2,320 records/s with it,
// 14,846 without, in the testbed's store ceiling). search_text holds only what people search
// attributes for: their string values without opaque identifiers, at most 2 KiB (searchText
// in searchtext.go says the exact rule). Insert computes it in Go; for the rows already
// stored, backfillSearchText computes it from their attributes, and schemaV3Index rebuilds the
// index from message, event and search_text.
//
// The triggers and the FTS table are dropped first, so that the backfill's updates touch no
// index; the triggers keep their names (tools that drop them to measure the index's cost, such
// as the testbed, rely on them).
var schemaV3 = []string{
	`DROP TRIGGER audit_logs_fts_insert`,
	`DROP TRIGGER audit_logs_fts_delete`,
	`DROP TRIGGER audit_logs_fts_update`,
	`DROP TABLE audit_fts`,
	`ALTER TABLE audit_logs ADD COLUMN search_text TEXT NOT NULL DEFAULT ''`,
}

// schemaV3Index recreates v1's full-text table and triggers over search_text instead of
// attributes, then indexes every stored row ('rebuild' reads the content table).
var schemaV3Index = []string{
	`CREATE VIRTUAL TABLE audit_fts USING fts5(
	message, event, search_text,
	content = 'audit_logs', content_rowid = 'seq',
	columnsize = 0,
	tokenize = 'unicode61 remove_diacritics 2'
)`,
	`CREATE TRIGGER audit_logs_fts_insert AFTER INSERT ON audit_logs BEGIN
	INSERT INTO audit_fts (rowid, message, event, search_text)
	VALUES (new.seq, new.message, new.event, new.search_text);
END`,
	`CREATE TRIGGER audit_logs_fts_delete AFTER DELETE ON audit_logs BEGIN
	INSERT INTO audit_fts (audit_fts, rowid, message, event, search_text)
	VALUES ('delete', old.seq, old.message, old.event, old.search_text);
END`,
	`CREATE TRIGGER audit_logs_fts_update AFTER UPDATE OF message, event, search_text ON audit_logs BEGIN
	INSERT INTO audit_fts (audit_fts, rowid, message, event, search_text)
	VALUES ('delete', old.seq, old.message, old.event, old.search_text);
	INSERT INTO audit_fts (rowid, message, event, search_text)
	VALUES (new.seq, new.message, new.event, new.search_text);
END`,
	`INSERT INTO audit_fts (audit_fts) VALUES ('rebuild')`,
}

// schemaV4 adds the tamper-evident chain (internal/chain): one link per committed record, in
// commit order per tenant, and the signed checkpoints of each tenant's head. Links are kept
// when retention removes their record, so the chain still verifies across the gap.
//
// Records stored before this version are not on any chain: audit_chain_start keeps the seq
// from which every record must have a link, so verify reports rows written around the
// collector later but not the history the upgrade found.
var schemaV4 = []string{
	`CREATE TABLE audit_chain (
	tenant_id   TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	record_id   TEXT    NOT NULL,
	timestamp   INTEGER NOT NULL,
	level       INTEGER NOT NULL,
	record_hash BLOB    NOT NULL,
	hash        BLOB    NOT NULL,
	PRIMARY KEY (tenant_id, seq)
) STRICT, WITHOUT ROWID`,
	`CREATE INDEX audit_chain_record ON audit_chain (record_id)`,
	`CREATE TABLE audit_checkpoints (
	tenant_id TEXT    NOT NULL,
	seq       INTEGER NOT NULL,
	time      INTEGER NOT NULL,
	document  TEXT    NOT NULL
) STRICT`,
	`CREATE INDEX audit_checkpoints_tenant ON audit_checkpoints (tenant_id, seq, time)`,
	`CREATE TABLE audit_chain_start (from_seq INTEGER NOT NULL) STRICT`,
	`INSERT INTO audit_chain_start (from_seq) SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_logs`,
}

// schemaV5 makes a record's identity (tenant_id, id) instead of id alone. Until v4 the UNIQUE
// constraint on id spanned tenants, so a tenant's record whose id another tenant had used first
// was taken for a replay and silently not stored.
//
// SQLite cannot drop a column constraint, so the table is rebuilt: a copy with the new key, the
// rows copied with their seq (the full-text index addresses rows by seq, so it stays valid and
// is not rebuilt), the old table dropped and the copy renamed. The key is UNIQUE (id, tenant_id)
// with id first, so that a lookup by id alone (an admin's Get across tenants) still uses it;
// Insert's conflict target names the same two columns. Indexes and triggers go with the old
// table and are made again as v2 and v3 left them.
//
// On an existing file the copy and the index builds take a few seconds per million rows, once,
// at the first start of this version, in one transaction: a failure leaves the file at v4.
var schemaV5 = []string{
	`CREATE TABLE audit_logs_v5 (
	seq                INTEGER PRIMARY KEY,
	id                 TEXT    NOT NULL,
	timestamp          INTEGER NOT NULL,
	observed_timestamp INTEGER NOT NULL,
	level              INTEGER NOT NULL,
	severity_text      TEXT    NOT NULL DEFAULT '',
	severity_number    INTEGER NOT NULL DEFAULT 0,
	event              TEXT    NOT NULL DEFAULT '',
	message            TEXT    NOT NULL DEFAULT '',
	tenant_id          TEXT    NOT NULL,
	user_id            TEXT    NOT NULL DEFAULT '',
	username           TEXT    NOT NULL DEFAULT '',
	company_id         TEXT    NOT NULL DEFAULT '',
	employee_id        TEXT    NOT NULL DEFAULT '',
	actor_id           TEXT    NOT NULL DEFAULT '',
	entity_id          TEXT    NOT NULL DEFAULT '',
	entity_type        TEXT    NOT NULL DEFAULT '',
	ip_address         TEXT    NOT NULL DEFAULT '',
	user_agent         TEXT    NOT NULL DEFAULT '',
	geo_country        TEXT    NOT NULL DEFAULT '',
	geo_city           TEXT    NOT NULL DEFAULT '',
	method             TEXT    NOT NULL DEFAULT '',
	path               TEXT    NOT NULL DEFAULT '',
	status_code        INTEGER NOT NULL DEFAULT 0,
	duration_ms        REAL,
	trace_id           TEXT    NOT NULL DEFAULT '',
	span_id            TEXT    NOT NULL DEFAULT '',
	service_name       TEXT    NOT NULL DEFAULT '',
	scope              TEXT    NOT NULL DEFAULT '',
	tags               TEXT    NOT NULL DEFAULT '[]',
	attributes         TEXT    NOT NULL DEFAULT '{}',
	resource           TEXT    NOT NULL DEFAULT '{}',
	search_text        TEXT    NOT NULL DEFAULT '',
	UNIQUE (id, tenant_id)
) STRICT`,
	`INSERT INTO audit_logs_v5 (seq, id, timestamp, observed_timestamp, level, severity_text,
	severity_number, event, message, tenant_id, user_id, username, company_id, employee_id,
	actor_id, entity_id, entity_type, ip_address, user_agent, geo_country, geo_city, method,
	path, status_code, duration_ms, trace_id, span_id, service_name, scope, tags, attributes,
	resource, search_text)
SELECT seq, id, timestamp, observed_timestamp, level, severity_text, severity_number, event,
	message, tenant_id, user_id, username, company_id, employee_id, actor_id, entity_id,
	entity_type, ip_address, user_agent, geo_country, geo_city, method, path, status_code,
	duration_ms, trace_id, span_id, service_name, scope, tags, attributes, resource, search_text
FROM audit_logs ORDER BY seq`,
	`DROP TABLE audit_logs`,
	`ALTER TABLE audit_logs_v5 RENAME TO audit_logs`,
	`CREATE INDEX audit_logs_tenant_time ON audit_logs (tenant_id, timestamp, id, level, event, user_id)`,
	`CREATE INDEX audit_logs_time ON audit_logs (timestamp, id, level, event, user_id, tenant_id)`,
	`CREATE INDEX audit_logs_tenant_user_time ON audit_logs (tenant_id, user_id, timestamp, id)`,
	`CREATE INDEX audit_logs_tenant_event_time ON audit_logs (tenant_id, event, timestamp, id)`,
	`CREATE INDEX audit_logs_trace ON audit_logs (trace_id, timestamp, id) WHERE trace_id <> ''`,
	`CREATE INDEX audit_logs_ip ON audit_logs (ip_address, timestamp, id) WHERE ip_address <> ''`,
	schemaV3Index[1],
	schemaV3Index[2],
	schemaV3Index[3],
	// Chain links are looked up by their record within a tenant.
	`DROP INDEX audit_chain_record`,
	`CREATE INDEX audit_chain_record ON audit_chain (tenant_id, record_id)`,
}

// schemaV6 adds the stats counts (rollup.go says what they hold and why these widths): Stats
// read every row of its range, so its cost grew with the rows (3.4 s p99 for an admin's day on
// a 10M-row file); it now reads per-slot counts, plus the rows of the range's edges shorter than
// a slot. WITHOUT ROWID: the key is the whole row but n, so the table is its own index. The key
// starts with the tenant, so a tenant's stats read only its counts; an admin's read each
// tenant's range in turn (stats.go).
//
// backfillRollups counts the rows already stored, in one pass over the time index in the
// migration's transaction: 11 to 25 s on the 1M-row benchmark file, once, at the first start
// of this version.
var schemaV6 = []string{
	`CREATE TABLE audit_stats_levels (
	tenant_id TEXT    NOT NULL,
	width     INTEGER NOT NULL,
	slot      INTEGER NOT NULL,
	level     INTEGER NOT NULL,
	n         INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, width, slot, level)
) STRICT, WITHOUT ROWID`,
	`CREATE TABLE audit_stats_events (
	tenant_id TEXT    NOT NULL,
	width     INTEGER NOT NULL,
	slot      INTEGER NOT NULL,
	event     TEXT    NOT NULL,
	n         INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, width, slot, event)
) STRICT, WITHOUT ROWID`,
	`CREATE TABLE audit_stats_users (
	tenant_id TEXT    NOT NULL,
	width     INTEGER NOT NULL,
	slot      INTEGER NOT NULL,
	user_id   TEXT    NOT NULL,
	n         INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, width, slot, user_id)
) STRICT, WITHOUT ROWID`,
}

// schemaV7 drops the full-text insert trigger: Insert indexes the rows of each transaction in
// one statement at its end instead (insertFullText in insert.go says why; on the load
// generator's records the trigger made the writer several times slower as the file grew).
// The delete and update triggers stay: retention deletes rows one statement per chunk, and
// no statement runs after it in its transaction.
//
// A file at v7 opened by an older binary is refused (ErrSchemaTooNew), which matters here:
// an older Insert would store rows without indexing them.
var schemaV7 = []string{
	`DROP TRIGGER audit_logs_fts_insert`,
}

// schemaV8 serves the filters added with it (company_id, employee_id, entity_type, scope,
// service_name, tag) and makes tags searchable.
//
// Only company_id gets an index: the listing of one company is what the viewer of a
// multi-company tenant asks first, and a company is a small share of its tenant, so walking the
// time index for it reads most of the tenant (measured on 1M rows of 10 tenants and 2,000
// companies: 250 ms for a tenant's page of a company it does not hold, 530 ms for an admin's,
// both under 1 ms with this index; building it took 1.2 s; it adds about 7 µs of CPU to the
// insert of a row that has a company). It is partial, like trace and ip,
// because many records carry no company; queries repeat "company_id <> ”". The other new
// filters are walked on the time index like actor_id and entity_id: scope, service_name,
// entity_type and tags take few values each, so a page fills after a short walk.
//
// backfillTagSearchText puts the tags of the rows already stored into search_text (Insert
// does that from this version on: recordSearchText); the update trigger re-indexes each
// updated row. Only rows with tags are touched.
var schemaV8 = []string{
	`CREATE INDEX audit_logs_company ON audit_logs (company_id, timestamp, id) WHERE company_id <> ''`,
}

// schemaV9 holds a sealed partition's trace filter (tracefilter.go): one row, written once the
// partition takes no more inserts, so that trace lookups skip the partitions that cannot hold
// the trace. Every file gets the table; only sealed partitions and a partitioned store's base
// file fill it.
var schemaV9 = []string{
	`CREATE TABLE trace_filter (
		id     INTEGER PRIMARY KEY CHECK (id = 1),
		filter BLOB NOT NULL
	) STRICT`,
}
