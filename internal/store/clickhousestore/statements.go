package clickhousestore

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Statement is one SQL statement as the store generates it.
type Statement struct {
	// Name says which operation runs it ("query: every filter field").
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// ModernStatements returns the modern layout's DDL and one instance of every statement the
// store runs on it, with literal values, in an order that runs on an empty server: create,
// record the schema version, insert StatementFixture(now), then every read, the chain's
// statements (chainStatements), then Prune's statements. The chDB check (chdb/check.mjs, run by TestModernStatements_RunOnCurrentClickHouse)
// executes them on a current ClickHouse engine, so the modern SQL is proven valid without a
// modern server in CI.
//
// The statements are built by the same functions the store uses; only the inserts and the id
// lookups differ in form: the store sends rows as native blocks and a lookup's ids as a table
// beside the statement (QueryIDs), while here the same column list carries the same values as a
// VALUES literal, and the ids are a literal IN list.
func ModernStatements(cfg Config, now time.Time) ([]Statement, error) {
	ttl, err := cfg.ttlByLevel()
	if err != nil {
		return nil, err
	}
	d := dialect{mode: modeModern, rev: currentModernRev, db: cfg.Database, table: cfg.Table, cluster: cfg.Cluster, ttl: ttl}
	var out []Statement
	add := func(name, sql string) { out = append(out, Statement{Name: name, SQL: sql}) }

	for i, stmt := range d.createStatements() {
		add(fmt.Sprintf("migrate: create %d", i+1), stmt)
	}
	add("migrate: record schema version", d.recordVersionSQL()+fmt.Sprintf(" VALUES (%d, %s, now())", schemaVersion, quoteString(d.layoutName())))
	add("migrate: read schema version", d.schemaVersionSQL())

	fixture := StatementFixture(now)
	values, err := d.valuesLiteral(fixture, insertVersion(now))
	if err != nil {
		return nil, err
	}
	add("insert: rows", d.insertSQL()+" VALUES "+values)
	ids := make([]string, len(fixture))
	for i, r := range fixture {
		ids[i] = r.ID
	}
	add("insert: look up stored ids", d.existingIDsSQL("acme", literalSet(ids), fixture[0].Timestamp.UnixNano(), now.UnixNano()))

	a := fixture[1]
	every := store.Filter{
		TenantID: a.TenantID, Levels: []record.Level{record.LevelWarn, record.LevelError}, MinLevel: record.LevelWarn,
		Event: a.Event, UserID: a.UserID, ActorID: a.ActorID, EntityID: a.EntityID, TraceID: a.TraceID, IP: a.IPAddress,
		EntityType: a.EntityType, CompanyID: a.CompanyID, EmployeeID: a.EmployeeID, Scope: a.Scope,
		ServiceName: a.ServiceName, Tags: a.Tags,
		Start: a.Timestamp, End: a.Timestamp.Add(time.Nanosecond),
		Text: `(password OR "wrong password") expir* NOT globex`,
	}
	reads := []struct {
		name   string
		filter store.Filter
		cursor *store.Cursor
	}{
		{"query: first page, no filter", store.Filter{}, nil},
		{"query: every filter field", every, nil},
		{"query: after a cursor", store.Filter{TenantID: "acme"}, &store.Cursor{TimestampNanos: fixture[2].Timestamp.UnixNano(), ID: fixture[2].ID}},
		{"query: a prefix phrase", store.Filter{Text: `"login fail"*`}, nil},
		{"query: a tag no record holds", store.Filter{Tags: []string{"login", "logout"}}, nil},
		{"query: a word of a tag", store.Filter{Text: "quoted"}, nil},
	}
	for _, r := range reads {
		sql, err := d.querySQL(r.filter, r.cursor, 2)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
		add(r.name, sql)
	}
	add("get: one tenant", d.getSQL("acme", a.ID))
	add("get: across tenants", d.getSQL("", fixture[3].ID))
	add("trace", d.traceSQL("", a.TraceID))
	if err := d.chainStatements(add, fixture, now); err != nil {
		return nil, err
	}

	q, err := store.StatsQuery{TenantID: "acme", Start: now.Add(-48 * time.Hour), End: now.Add(time.Hour)}.Normalize()
	if err != nil {
		return nil, err
	}
	add("stats: top events", d.statsTopSQL(q, "EventName"))
	add("stats: top users", d.statsTopSQL(q, "user_id"))
	add("stats: histogram", d.statsHistogramSQL(q))

	policy := StatementPolicy()
	cond := d.expiredCondition(policy, now)
	add("prune: count expired", d.pruneCountSQL(cond))
	add("prune: list partitions", d.partitionsSQL())
	for _, id := range droppablePartitions([]string{partitionOf(fixture[0].Timestamp)}, policy, now) {
		add("prune: drop partition "+id, d.dropPartitionSQL(id))
	}
	add("prune: delete", d.pruneDeleteSQL(cond))
	add("prune: pending mutations", d.pendingMutationsSQL())
	add("prune: count expired after", d.pruneCountSQL(cond))
	return out, nil
}

// chainStatements are the chain's statements over the fixture: chaining started an hour
// before now, StatementChainLinks are stored, and acme's st-4 is not linked, so Unchained
// finds it.
func (d dialect) chainStatements(add func(name, sql string), fixture []record.Record, now time.Time) error {
	start := now.Add(-time.Hour).UnixNano()
	add("chain: record start", d.insertChainStartSQL()+fmt.Sprintf(" VALUES (%d)", start))
	add("chain: read start", d.chainStartSQL())
	links := StatementChainLinks(now)
	tuples := make([]string, len(links))
	for i, l := range links {
		tuples[i] = fmt.Sprintf("(%s, %d, %s, %d, %d, %s, %s)", quoteString(l.Tenant), l.Seq, quoteString(l.RecordID),
			encodedNanos(l.Timestamp), l.Level, hashLiteral(l.RecordHash[:]), hashLiteral(l.Hash[:]))
	}
	add("chain: insert links", d.insertLinksSQL()+" VALUES "+strings.Join(tuples, ", "))
	acme := []string{fixture[0].ID, fixture[1].ID, fixture[2].ID, fixture[4].ID}
	add("chain: look up linked ids", d.linkedIDsSQL("acme", literalSet(acme)))
	add("chain: head seq", d.chainHeadSeqSQL("acme"))
	add("chain: links page", d.chainLinksSQL("acme", 1, math.MaxUint64, chainLinksPage))
	add("chain: records of a page", d.chainRecordsSQL(acme[:3], encodedNanos(fixture[0].Timestamp), encodedNanos(fixture[2].Timestamp)))
	add("chain: unchained", d.unchainedSQL("acme", insertVersion(time.Unix(0, start)), 10))
	add("chain: tenants", d.chainTenantsSQL())
	doc, err := json.Marshal(chain.Checkpoint{Tenant: "acme", Seq: 3, Head: links[2].Hash, Time: now, Kind: chain.KindPeriodic})
	if err != nil {
		return err
	}
	add("checkpoint: save", d.insertCheckpointSQL()+fmt.Sprintf(" VALUES ('acme', 3, %d, %s)", now.UnixNano(), quoteString(string(doc))))
	add("checkpoint: read", d.checkpointsSQL("acme"))
	return nil
}

// StatementChainLinks are the links chainStatements stores: acme's st-0, st-1 and st-2 in
// that order, and globex's st-3.
func StatementChainLinks(now time.Time) []chain.Link {
	f := StatementFixture(now)
	return append(chain.NextAll(chain.Link{}, f[:3]), chain.Next(chain.Link{}, f[3]))
}

// StatementFixture is what ModernStatements inserts: five records at or before now.
// [0] is 400 days old, in a month every level of StatementPolicy has expired (Prune drops its
// partition); [1] a warn record of acme with every field set; [2] and [3] an hour old, of acme
// and globex; [4] a debug record 10 days old (Prune deletes it by mutation).
func StatementFixture(now time.Time) []record.Record {
	full := func(id, tenant string, ts time.Time, l record.Level) record.Record {
		return record.Record{
			ID: id, Timestamp: ts, ObservedTimestamp: ts.Add(time.Microsecond), Level: l,
			SeverityText: strings.ToUpper(l.String()), SeverityNumber: 13, Event: "user.login",
			Message: "login failed: wrong password", TenantID: tenant, UserID: "u-1", Username: "alice",
			CompanyID: "c-1", EmployeeID: "e-1", ActorID: "u-1", EntityID: "acct-1", EntityType: "account",
			IPAddress: "203.0.113.7", UserAgent: "curl/8.0", GeoCountry: "DE", GeoCity: "Berlin",
			Method: "POST", Path: "/login", StatusCode: 401, DurationMS: 12.5,
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
			ServiceName: "auth", Scope: "auth", Tags: []string{"login", "it's \"quoted\""},
			Attributes: map[string]any{"reason": "password expired", "attempt": int64(1<<62 + 1), "nested": map[string]any{"k": []any{"v", 1.5}}},
			Resource:   map[string]any{"service.name": "auth", "host.name": `web\1`},
		}
	}
	return []record.Record{
		full("st-0", "acme", now.Add(-400*24*time.Hour), record.LevelInfo),
		full("st-1", "acme", now.Add(-2*time.Hour), record.LevelWarn),
		full("st-2", "acme", now.Add(-time.Hour), record.LevelInfo),
		full("st-3", "globex", now.Add(-time.Hour), record.LevelError),
		full("st-4", "acme", now.Add(-10*24*time.Hour), record.LevelDebug),
	}
}

// StatementPolicy is the retention ModernStatements prunes with: debug 7 days, the rest 90.
func StatementPolicy() store.RetentionPolicy {
	return store.RetentionPolicy{ByLevel: map[record.Level]time.Duration{record.LevelDebug: 7 * 24 * time.Hour}, Default: 90 * 24 * time.Hour}
}

func partitionOf(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%04d%02d", t.Year(), int(t.Month()))
}

// valuesLiteral renders records as VALUES tuples of insertColumns, from the very values
// encodeRecord hands the native batch.
func (d dialect) valuesLiteral(recs []record.Record, version uint64) (string, error) {
	tuples := make([]string, len(recs))
	for i := range recs {
		row, _, err := d.encodeRecord(&recs[i], recs[i].TenantID, version)
		if err != nil {
			return "", err
		}
		vals := make([]string, len(row))
		for j, v := range row {
			if vals[j], err = literal(v); err != nil {
				return "", fmt.Errorf("record %s column %d: %w", recs[i].ID, j, err)
			}
		}
		tuples[i] = "(" + strings.Join(vals, ", ") + ")"
	}
	return strings.Join(tuples, ", "), nil
}

func literal(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return quoteString(x), nil
	case time.Time:
		// A string, not fromUnixTimestamp64Nano(N): VALUES parses expressions through
		// templates that may read a long integer literal as a Float64 and lose nanoseconds.
		return "toDateTime64(" + quoteString(x.UTC().Format("2006-01-02 15:04:05.000000000")) + ", 9, 'UTC')", nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "nan", nil
		}
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case []string:
		return "[" + quoteStrings(x) + "]", nil
	case map[string]string:
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			kv = append(kv, quoteString(k), quoteString(x[k]))
		}
		return "map(" + strings.Join(kv, ", ") + ")", nil
	}
	return "", fmt.Errorf("no literal for %T", v)
}
