package clickhousestore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/jsonfloat"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// idsPerLookup bounds the IN list of one query of the chain's records by id (chainRecordsSQL).
const idsPerLookup = 1000

// Insert writes records in one native INSERT per tenant (blocks of insertBlockRows rows),
// skipping ids that are stored already and repeated ids of the batch (the first occurrence
// wins). Tenancy rules are sqlitestore's: a record without a TenantID is stored under tenant,
// one whose TenantID differs from a non-empty tenant fails the whole batch, and one with
// neither goes to record.DefaultTenant.
//
// How "idempotent by id" holds on ClickHouse, which has no unique constraint:
//   - Within this process, the tenant's lock (tenantState) makes the existing-ids lookup and
//     the write one step, so a replay never writes a second row.
//   - Across processes (two collectors replaying the same WAL), both may write. The rows share
//     (tenant_id, timestamp, id), the table's sort key, so ReplacingMergeTree collapses them,
//     and every read uses FINAL meanwhile; the first write has the higher insert_version and
//     is the one kept.
//
// With Config.Chain, the tenant's records of the batch that are not on its chain yet are then
// linked onto it, in batch order (linkBatch). ClickHouse has no transaction to make the rows
// and their links one write, so the order matters, and the rows go first:
//   - a link is only ever written for a record that is stored: a checkpoint signed after the
//     links can never cover a record whose write failed, which no later repair could undo;
//   - a crash or error in between leaves stored records without links, which is what a row
//     written around the collector looks like, so verify reports them (Unchained) until the
//     exporter's retry or WAL replay comes: the replay finds the rows stored, looks them up on
//     the chain, and links exactly those that are not, so no record is linked twice and none
//     stays unlinked;
//   - the row write, the one that can fail for good (a record the server refuses), fails
//     before anything is linked.
//
// A record that can never be stored (no id, a timestamp outside the layout's range, a tenant
// that is not the batch's) fails the batch with an error wrapping store.ErrInvalidRecord
// before anything is written; a server that cannot be reached fails it at once with the
// connection error. The records are not modified.
func (s *Store) Insert(ctx context.Context, tenant string, records []record.Record) (int, error) {
	if len(records) == 0 {
		return 0, nil
	}
	if s.closed.Load() {
		return 0, errClosed
	}
	d, err := s.dialect(ctx)
	if err != nil {
		return 0, fmt.Errorf("clickhousestore: insert %d records: %w", len(records), err)
	}
	if s.cfg.Chain {
		// Before the rows get their insert_version: every row written from here on must be
		// linked, and Unchained tells them by that version.
		if err := s.ensureChainStart(ctx, d); err != nil {
			return 0, fmt.Errorf("clickhousestore: insert %d records: %w", len(records), err)
		}
	}
	version := insertVersion(time.Now())
	var order []string
	batches := map[string]*tenantBatch{}
	seen := make(map[string]bool, len(records))
	checked := checkAll(d, tenant, records)
	for i := range records {
		r := &records[i]
		e := &checked[i]
		if e.err != nil {
			return 0, e.err
		}
		rowTenant := e.tenant
		key := rowTenant + "\x00" + r.ID // identity is (tenant_id, id)
		if seen[key] {
			continue
		}
		seen[key] = true
		b := batches[rowTenant]
		if b == nil {
			b = &tenantBatch{tenant: rowTenant, version: version, minTS: math.MaxInt64, maxTS: math.MinInt64}
			if len(order) == 0 { // the usual batch has one tenant: room for all of it
				b.records = make([]record.Record, 0, len(records)-i)
				b.encoded = make([]encodedRecord, 0, len(records)-i)
			}
			batches[rowTenant] = b
			order = append(order, rowTenant)
		}
		b.add(*r, *e)
	}
	total := 0
	for _, t := range order {
		n, err := s.insertTenant(ctx, d, batches[t])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// encodedRecord is what a record's row needs beyond the record's own fields (emitRow), or why
// it cannot be stored. dialect.check fills in the cheap, fallible part for the whole batch
// before anything is written; dialect.finish the costly rest, which cannot fail, while the
// rows before it are sent (finisher).
type encodedRecord struct {
	tenant       string
	ts, observed int64 // Unix nanoseconds, 0 for the zero time
	attrs, res   string
	search       string
	// The modern layout's Map columns: the resource, and the attributes with the audit
	// fields (logAttributes).
	resMap, attrMap map[string]string
	err             error
}

// checkAll checks every record (dialect.check) and names the tenant of its row; the first
// record with an err fails the batch before anything is written.
func checkAll(d dialect, tenant string, records []record.Record) []encodedRecord {
	out := make([]encodedRecord, len(records))
	for i := range records {
		r := &records[i]
		e := &out[i]
		if e.tenant, e.err = store.RowTenant(tenant, i, r); e.err != nil {
			e.err = fmt.Errorf("clickhousestore: %w", e.err)
			continue
		}
		if err := d.check(r, e); err != nil {
			e.err = fmt.Errorf("clickhousestore: insert: record %d (id %q): %w: %w", i, r.ID, store.ErrInvalidRecord, err)
		}
	}
	return out
}

// tenantBatch is one tenant's part of an Insert: a batch for one tenant, the usual case, has
// one. A batch with tenant "" may carry several.
type tenantBatch struct {
	tenant       string
	records      []record.Record // with TenantID filled in, as linked
	encoded      []encodedRecord
	version      uint64 // the rows' insert_version
	minTS, maxTS int64
}

func (b *tenantBatch) add(r record.Record, e encodedRecord) {
	r.TenantID = b.tenant
	b.records = append(b.records, r)
	b.encoded = append(b.encoded, e)
	b.minTS, b.maxTS = min(b.minTS, e.ts), max(b.maxTS, e.ts)
}

// insertBlockRows is how many rows go into one native block: a larger batch is streamed as
// several blocks of one INSERT, so that the server writes one block while the next is
// encoded, and the block's buffers are reused instead of grown. Chosen by measurement
// (BENCHMARKS.md, ClickHouse insert): below a few thousand rows the extra parts cost the
// server more than the overlap saves.
const insertBlockRows = 2500

// insertTenant writes one tenant's part of a batch and returns how many of its records were
// not stored before.
//
// The stored-ids lookup is a round trip that almost always finds nothing (only a replay finds
// ids), so it runs, on a connection of its own, while the rows are appended to the first
// native block (writeRows).
func (s *Store) insertTenant(ctx context.Context, d dialect, b *tenantBatch) (int, error) {
	st := s.tenantState(b.tenant)
	st.mu.Lock()
	defer st.mu.Unlock()
	ids := make([]string, len(b.records))
	for i, r := range b.records {
		ids[i] = r.ID
	}
	looked := make(chan lookup, 1) // buffered: an early return leaves no goroutine behind
	go func() {
		existing, err := s.existingIDs(ctx, d, b.tenant, ids, b.minTS, b.maxTS)
		looked <- lookup{existing, err}
	}()
	var hashed chan []chain.Hash
	if s.cfg.Chain {
		// The record hashes need nothing but the records: computed while the server writes the
		// rows, they are ready when the links are made.
		hashed = make(chan []chain.Hash, 1)
		go func() { hashed <- recordHashes(b.records) }()
	}
	workers := s.finishWorkers
	if workers <= 0 {
		workers = defaultFinishWorkers
	}
	fin := startFinisher(d, b, finishChunkRows, workers)
	existing, err := s.writeRows(ctx, d, b, looked, fin)
	if err != nil {
		return 0, err
	}
	stored := len(ids) - len(existing)
	if s.cfg.Chain {
		if err := s.linkBatch(ctx, d, st, b.tenant, b.records, <-hashed, existing); err != nil {
			return stored, fmt.Errorf("clickhousestore: insert into %s: %w", d.logs(), err)
		}
	}
	return stored, nil
}

// recordHashes is each record's chain.RecordHash.
func recordHashes(recs []record.Record) []chain.Hash {
	out := make([]chain.Hash, len(recs))
	for i := range recs {
		out[i] = chain.RecordHash(recs[i])
	}
	return out
}

// lookup is the answer of existingIDs.
type lookup struct {
	existing map[string]bool
	err      error
}

// writeRows sends the batch's rows that are not stored yet, in blocks of s.blockRows rows of
// one INSERT, and returns the stored ids that the lookup found. No block leaves before the
// lookup has answered; when it found stored ids, the INSERT is dropped unsent and started
// again without them. Once a block has left, a later failure (the connection, a value the
// driver refuses) leaves that block's rows stored: a retry finds them and writes the rest.
func (s *Store) writeRows(ctx context.Context, d dialect, b *tenantBatch, looked <-chan lookup, fin *finisher) (map[string]bool, error) {
	var existing map[string]bool
	wait := func() error {
		if looked == nil {
			return nil
		}
		found := <-looked
		looked = nil
		if found.err != nil {
			return fmt.Errorf("clickhousestore: insert %d records into %s: look up stored ids: %w", len(b.records), d.logs(), found.err)
		}
		existing = found.existing
		return nil
	}
	if s.cfg.AsyncInsert {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"async_insert": 1, "wait_for_async_insert": 1}))
	}
	blockRows := s.blockRows
	if blockRows <= 0 {
		blockRows = insertBlockRows
	}
	for {
		known := looked == nil // the rows appended so far leave out every stored id
		batch, err := s.conn.PrepareBatch(ctx, d.insertSQL())
		if err != nil {
			_ = wait()
			return nil, fmt.Errorf("clickhousestore: insert %d records into %s: %w", len(b.records)-len(existing), d.logs(), err)
		}
		restart, err := s.appendBlocks(batch, d, b, blockRows, &existing, wait, fin)
		if err == nil && !restart {
			if err = wait(); err == nil && !known && len(existing) > 0 {
				restart = true
			}
		}
		if err != nil || restart || len(existing) == len(b.records) {
			_ = batch.Abort()
			if err != nil || !restart {
				return existing, err
			}
			continue
		}
		if err := batch.Send(); err != nil {
			_ = batch.Abort()
			return nil, fmt.Errorf("clickhousestore: insert %d records into %s: %w", len(b.records)-len(existing), d.logs(), err)
		}
		return existing, nil
	}
}

// appendBlocks appends the rows not in *existing to batch, each once fin has finished it,
// flushing a block every blockRows rows once wait has the lookup's answer in *existing.
// restart is true when the answer came mid-block and named rows already appended.
func (s *Store) appendBlocks(batch batch, d dialect, b *tenantBatch, blockRows int, existing *map[string]bool, wait func() error, fin *finisher) (restart bool, err error) {
	known := *existing != nil
	columns := d.insertColumns()
	var blk columnBlock
	for i := range b.records {
		if (*existing)[b.records[i].ID] {
			continue
		}
		if blk.rows == blockRows {
			if err := wait(); err != nil {
				return false, err
			}
			if !known && len(*existing) > 0 {
				return true, nil
			}
			known = true
			rows := blk.rows
			if err := blk.appendTo(batch, columns); err != nil {
				return false, err
			}
			if err := batch.Flush(); err != nil {
				return false, fmt.Errorf("clickhousestore: insert: send a block of %d rows: %w", rows, err)
			}
		}
		fin.wait(i)
		if err := b.encoded[i].err; err != nil {
			return false, err
		}
		d.emitRow(&blk, &b.records[i], &b.encoded[i], b.version)
		blk.endRow()
	}
	return false, blk.appendTo(batch, columns)
}

// finishChunkRows is how many rows the finisher hands over at a time: small enough that the
// first block starts filling soon, large enough that the hand-over costs nothing.
const finishChunkRows = 250

// defaultFinishWorkers is how many goroutines finish an insert's rows.
const defaultFinishWorkers = 1

// finisher finishes a tenant batch's rows (dialect.finish) on goroutines of their own, chunk
// by chunk, while the rows finished so far are appended and sent: the costly part of the
// encoding then runs beside the driver's compression and sending of earlier blocks, where it
// used to run before the first block left (README, "Insert speed").
type finisher struct {
	chunk int
	done  []chan struct{} // closed when its chunk is finished
	ready int             // rows known to be finished; read and written by the appender only
}

// startFinisher starts finishing b's rows on up to workers goroutines, each taking
// every workers-th chunk. The goroutines end when every row is finished, whether or not the
// insert still wants them.
func startFinisher(d dialect, b *tenantBatch, chunk, workers int) *finisher {
	n := len(b.records)
	f := &finisher{chunk: chunk, done: make([]chan struct{}, (n+chunk-1)/chunk)}
	for c := range f.done {
		f.done[c] = make(chan struct{})
	}
	workers = min(workers, len(f.done))
	for w := range workers {
		go func() {
			for c := w; c < len(f.done); c += workers {
				for i := c * chunk; i < min((c+1)*chunk, n); i++ {
					d.finish(&b.records[i], &b.encoded[i])
				}
				close(f.done[c])
			}
		}()
	}
	return f
}

// wait returns once row i is finished.
func (f *finisher) wait(i int) {
	for i >= f.ready {
		c := f.ready / f.chunk
		<-f.done[c]
		f.ready = (c + 1) * f.chunk
	}
}

// insertVersion orders writes so that the earliest has the highest version: ReplacingMergeTree
// keeps the highest, and the contract says the first write wins.
func insertVersion(now time.Time) uint64 {
	return math.MaxUint64 - uint64(now.UnixNano())
}

// existingIDs returns which of ids are stored. tenant and the timestamp span narrow the legacy
// lookup to the batch's range of the primary key (see existingIDsSQL). The ids go as one table
// beside the statement (QueryIDs), however many there are.
func (s *Store) existingIDs(ctx context.Context, d dialect, tenant string, ids []string, minTS, maxTS int64) (map[string]bool, error) {
	return s.queryIDs(ctx, d.existingIDsSQL(tenant, idsTable, minTS, maxTS), ids)
}

// encodeRecord returns r's values in insertColumns order, and its timestamp in Unix
// nanoseconds: the row as one []any, for VALUES literals and for tests that write a row past
// Insert. Insert itself sends the same values column by column (emitRow).
func (d dialect) encodeRecord(r *record.Record, tenant string, version uint64) ([]any, int64, error) {
	e := encodedRecord{tenant: tenant}
	if err := d.encode(r, &e); err != nil {
		return nil, 0, err
	}
	var row anyRow
	d.emitRow(&row, r, &e, version)
	return row, e.ts, nil
}

// encode fills in e (whose tenant is set) what r's row needs beyond r's own fields, or says
// why r cannot be stored: check and finish in one step.
func (d dialect) encode(r *record.Record, e *encodedRecord) error {
	if err := d.check(r, e); err != nil {
		return err
	}
	d.finish(r, e)
	return e.err
}

// check fills in e (whose tenant is set) the part of r's row that can fail: its id and times,
// and the JSON of attributes or a resource that are not flat (flatValues): the rare values
// encodeJSON could refuse are found here, before anything is written, so that finish, which
// runs while earlier rows are sent, cannot fail.
func (d dialect) check(r *record.Record, e *encodedRecord) error {
	if r.ID == "" {
		return fmt.Errorf("id is empty")
	}
	lo, hi := d.timeRange()
	var err error
	if e.ts, err = encodeTime("timestamp", r.Timestamp, lo, hi); err != nil {
		return err
	}
	if e.observed, err = encodeTime("observed_timestamp", r.ObservedTimestamp, lo, hi); err != nil {
		return err
	}
	if !flatValues(r.Attributes) {
		if e.attrs, err = encodeJSON(r.Attributes); err != nil {
			return fmt.Errorf("attributes: %w", err)
		}
	}
	if !flatValues(r.Resource) {
		if e.res, err = encodeJSON(r.Resource); err != nil {
			return fmt.Errorf("resource: %w", err)
		}
	}
	return nil
}

// finish fills in the costly rest of e, for a record check passed: the JSON of flat
// attributes and resource, the search text and, in the modern layout, the Map columns. It
// cannot fail (encodeJSON of flat values always has an answer); should it, e.err says so and
// the INSERT is abandoned (Abort) before it is sent whole.
func (d dialect) finish(r *record.Record, e *encodedRecord) {
	var err error
	if e.attrs == "" { // encodeJSON's answer is never "" ("{}" for no attributes)
		if e.attrs, err = encodeJSON(r.Attributes); err != nil {
			e.err = fmt.Errorf("clickhousestore: insert: record %q: %w: attributes: %w", r.ID, store.ErrInvalidRecord, err)
			return
		}
	}
	if e.res == "" {
		if e.res, err = encodeJSON(r.Resource); err != nil {
			e.err = fmt.Errorf("clickhousestore: insert: record %q: %w: resource: %w", r.ID, store.ErrInvalidRecord, err)
			return
		}
	}
	e.search = searchText(append([]string{r.Event, r.Message, e.attrs}, r.Tags...)...)
	if d.modern() {
		e.resMap = flatten(r.Resource)
		e.attrMap = logAttributes(r, e.tenant)
	}
}

// flatValues reports whether every value of m is a string, int64, float64, bool or nil: the
// values the mapping gives and encodeJSON always encodes (a NaN or an infinity as its text).
func flatValues(m map[string]any) bool {
	for _, v := range m {
		switch v.(type) {
		case string, int64, float64, bool, nil:
		default:
			return false
		}
	}
	return true
}

// emitRow names r's values to w, one per insert column, in insertColumns order.
func (d dialect) emitRow(w rowSink, r *record.Record, e *encodedRecord, version uint64) {
	tsTime := time.Unix(0, e.ts).UTC()
	if d.modern() {
		w.time(tsTime)
		w.time(time.Unix(0, e.observed).UTC())
	} else {
		// DateTime keeps seconds; the exact instant is in the Nanos columns.
		w.time(tsTime)
		w.i64(e.ts)
		w.i64(e.observed)
	}
	w.str(r.TraceID)
	w.str(r.SpanID)
	rev2 := d.modernRev() >= modernRev2
	if rev2 {
		text, number := otelSeverity(r.Level)
		w.str(text)
		w.u8(number)
	} else {
		w.str(r.SeverityText)
		w.i32(r.SeverityNumber)
	}
	w.str(r.ServiceName)
	w.str(r.Message)
	if d.modern() {
		w.strMap(e.resMap)
		w.str(r.Scope)
		w.strMap(e.attrMap)
	} else {
		w.str(r.Scope)
	}
	w.str(r.Event)
	w.str(r.ID)
	w.str(e.tenant)
	w.u8(uint8(r.Level))
	if rev2 {
		w.str(r.SeverityText)
		w.i32(r.SeverityNumber)
	}
	for _, v := range []string{r.UserID, r.Username, r.CompanyID, r.EmployeeID, r.ActorID, r.EntityID,
		r.EntityType, r.IPAddress, r.UserAgent, r.GeoCountry, r.GeoCity, r.Method, r.Path} {
		w.str(v)
	}
	w.i64(int64(r.StatusCode))
	w.f64(r.DurationMS)
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	w.strs(tags)
	w.str(e.attrs)
	w.str(e.res)
	w.str(e.search)
	w.u64(version)
}

// otelSeverity is the SeverityText and SeverityNumber a modern revision 2 row carries for an
// audit level: the OpenTelemetry name and the first number of its range, which Grafana's
// ClickHouse data source maps to one of its own levels. Security has no OpenTelemetry
// severity; it is FATAL (21), which Grafana shows as critical, the most severe, as security is
// for audit. The level column (and LogAttributes['audit.level']) keep "security" itself, and
// severity_text / severity_number the sender's own severity.
func otelSeverity(l record.Level) (string, uint8) {
	switch l {
	case record.LevelDebug:
		return "DEBUG", 5
	case record.LevelWarn:
		return "WARN", 13
	case record.LevelError:
		return "ERROR", 17
	case record.LevelSecurity:
		return "FATAL", 21
	}
	return "INFO", 9
}

// logAttributes is LogAttributes of a modern row: the record's attributes (flatten) plus its
// audit fields under the attribute names the default mapping reads them from (user.id,
// tenant.id, client.address ...; see record.Attr*), so that Grafana, which filters on
// LogAttributes['user.id'], finds them where OpenTelemetry logs have them. Empty fields are
// left out; a field overrides an attribute of the same name, since the column is what the
// store filters and tenancy rely on. Reads never see these copies: records are read from
// attributes_json.
func logAttributes(r *record.Record, tenant string) map[string]string {
	out := flatten(r.Attributes)
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set(record.AttrID, r.ID)
	set(record.AttrTenantID, tenant)
	set(record.AttrLevel, r.Level.String())
	set(record.AttrEventName, r.Event)
	set(record.AttrUserID, r.UserID)
	set(record.AttrUserName, r.Username)
	set(record.AttrCompanyID, r.CompanyID)
	set(record.AttrEmployeeID, r.EmployeeID)
	set(record.AttrActorID, r.ActorID)
	set(record.AttrEntityID, r.EntityID)
	set(record.AttrEntityType, r.EntityType)
	set(record.AttrClientAddr, r.IPAddress)
	set(record.AttrUserAgent, r.UserAgent)
	set(record.AttrGeoCountry, r.GeoCountry)
	set(record.AttrGeoCity, r.GeoCity)
	set(record.AttrMethod, r.Method)
	set(record.AttrPath, r.Path)
	if r.StatusCode != 0 {
		set(record.AttrStatusCode, strconv.Itoa(int(r.StatusCode)))
	}
	if r.DurationMS != 0 {
		set(record.AttrDurationMS, strconv.FormatFloat(r.DurationMS, 'g', -1, 64))
	}
	return out
}

// encodeTime maps the zero time to 0 (and decodeTime back), as sqlitestore does: the one
// instant that cannot round-trip is 1970-01-01T00:00:00Z itself.
func encodeTime(field string, t time.Time, lo, hi time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if t.Before(lo) || t.After(hi) {
		return 0, fmt.Errorf("%s %s is outside the storable range %s to %s", field, t.Format(time.RFC3339Nano), lo.Format(time.RFC3339), hi.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

func decodeTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// encodeJSON writes m as compact JSON without HTML escaping ("{}" for empty). A value JSON
// cannot hold (a NaN or infinite double) is stored as its string rather than failing the
// batch forever.
func encodeJSON(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	if s, ok := flatJSON(m); ok {
		return s, nil
	}
	s, err := record.CompactJSON(m)
	if err == nil {
		return s, nil
	}
	return record.CompactJSON(record.FiniteNumbers(m))
}

// flatten is m as the Map(String, String) otel_logs has: strings as they are, every other
// value as its JSON text.
func flatten(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		js, err := record.CompactJSON(record.FiniteNumbers(v))
		if err != nil {
			js = fmt.Sprint(v)
		}
		out[k] = js
	}
	return out
}

// flatJSON is record.CompactJSON(m), byte for byte, for the common object of an audit record:
// plain ASCII keys and values that are strings, int64, finite float64, bool or nil. encoding/
// json's reflection and map sorting were a tenth of Insert's profile. ok is false for anything
// else (nested values, escapes, non-ASCII, other types), which CompactJSON then encodes.
func flatJSON(m map[string]any) (string, bool) {
	keys := make([]string, 0, len(m))
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + 4
		if s, ok := v.(string); ok {
			size += len(s) + 2
		} else {
			size += 24
		}
	}
	slices.Sort(keys)
	buf := make([]byte, 0, size)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		if !plainJSONString(k) {
			return "", false
		}
		buf = append(append(append(buf, '"'), k...), '"', ':')
		switch v := m[k].(type) {
		case string:
			if !plainJSONString(v) {
				return "", false
			}
			buf = append(append(append(buf, '"'), v...), '"')
		case int64:
			buf = strconv.AppendInt(buf, v, 10)
		case bool:
			buf = strconv.AppendBool(buf, v)
		case nil:
			buf = append(buf, "null"...)
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return "", false
			}
			buf = jsonfloat.Append(buf, v)
		default:
			return "", false
		}
	}
	return string(append(buf, '}')), true
}

// plainJSONString reports whether encoding/json writes s unchanged between its quotes (with
// HTML escaping off): printable ASCII without '"' and '\\'.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
