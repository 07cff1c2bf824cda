// Package storetest is the contract every store.Store backend passes: one suite, run by each
// backend's tests against a real database, so that the query API behaves the same on SQLite
// and ClickHouse.
//
// Beyond the interface's doc comments, the suite pins down:
//   - Records read back equal what was inserted, as RecordDiff defines equal (nanosecond UTC
//     timestamps; attributes and resource as JSON values).
//   - A record's identity is (tenant_id, id): the first write of an id in a tenant wins; later
//     writes of it in that tenant, in the same batch or another, are ignored without error,
//     while the same id in another tenant is another record. Get across tenants (tenant "")
//     of an id that several tenants hold is store.ErrAmbiguousID, never one picked at random.
//   - A batch is atomic: a record refused for its tenant fails the batch and stores nothing.
//   - Query orders by (timestamp, id) descending; NextCursor is empty exactly on the last page;
//     a cursor walk sees every record that existed when it began exactly once, whatever is
//     inserted meanwhile.
//   - Filter.Text syntax: words (all must appear, in message, event or attributes, ignoring
//     case and punctuation), "quoted phrases", a trailing * for a prefix, and the uppercase
//     operators AND, OR, NOT with parentheses. An unterminated quote, an unbalanced parenthesis
//     or an operator missing a term is store.ErrInvalidQuery.
//   - Stats: ByLevel lists every level; top lists rank by count, then key; records without an
//     event or user are not ranked; the histogram lists every epoch-aligned bucket of the range.
//   - Prune removes exactly the records older than their level's period (one exactly at the
//     cutoff is kept), from every tenant, and search no longer finds them.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// Open returns a new, empty, migrated store and arranges (t.Cleanup) for it to be closed. The
// suite may close it first, so Close must be idempotent.
type Open func(t *testing.T) store.Store

// Run runs the whole contract against stores made by open, one fresh store per subtest.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Open)
	}{
		{"InsertedRecordsReadBackEqual", testRoundTrip},
		{"TimestampsComeBackInUTCToTheNanosecond", testTimestampsUTC},
		{"InsertIsIdempotentByID", testIdempotentInsert},
		{"TheSameIDInTwoTenantsIsTwoRecords", testIDsAreScopedToTheirTenant},
		{"InsertFillsAnEmptyTenantFromTheBatch", testTenantFilledFromBatch},
		{"InsertRefusesARecordOfAnotherTenantAndStoresNothing", testTenantMismatch},
		{"EmptyInsertIsANoOp", testEmptyInsert},
		{"EveryFilterFieldSelectsExactlyItsRecords", testFilters},
		{"TenantFilterNeverReturnsAnotherTenantsRecords", testTenantIsolation},
		{"PaginationWalksEveryRecordOnceInOrder", testPagination},
		{"CursorIsStableWhileRecordsAreInserted", testCursorStability},
		{"PageLimitIsClampedToItsBounds", testLimits},
		{"TraceReturnsItsRecordsOldestFirst", testTrace},
		{"TextSearchFindsWordsOfMessagesEventsAndAttributes", testTextSearch},
		{"InvalidCursorIsErrInvalidCursor", testInvalidCursor},
		{"BadSearchSyntaxIsErrInvalidQuery", testBadSearch},
		{"GetOfAMissingIDIsErrNotFound", testGetMissing},
		{"ConcurrentInsertsAndQueriesAreSafe", testConcurrency},
		{"StatsCountLevelsAndRankTopEventsAndUsers", testStatsCounts},
		{"StatsHistogramListsEveryBucketIncludingEmptyOnes", testStatsHistogram},
		{"StatsRefuseQueriesTheyCannotAnswer", testStatsRefusals},
		{"PruneRemovesExactlyTheExpiredRecordsOfEachLevel", testPruneRemovesExactlyTheExpired},
		{"PruneWithZeroPeriodsKeepsEverything", testPruneKeepsForever},
		{"PrunedRecordsAreNoLongerFound", testPrunedRecordsAreNotFound},
		{"MigrateIsIdempotent", testMigrateAgain},
		{"CloseTwiceIsSafe", testCloseTwice},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustInsert(t *testing.T, s store.Store, tenant string, recs []record.Record) {
	t.Helper()
	_, err := s.Insert(ctx(t), tenant, recs)
	require.NoError(t, err, "Insert(%q, %d records)", tenant, len(recs))
}

func mustQuery(t *testing.T, s store.Store, f store.Filter, p store.Page) store.Result {
	t.Helper()
	res, err := s.Query(ctx(t), f, p)
	require.NoErrorf(t, err, "Query(%+v, %+v)", f, p)
	return res
}

// queryAll walks every page of f and returns all records.
func queryAll(t *testing.T, s store.Store, f store.Filter, limit int) []record.Record {
	t.Helper()
	var out []record.Record
	p := store.Page{Limit: limit}
	for pages := 0; ; pages++ {
		require.LessOrEqual(t, pages, 100000, "pagination does not end")
		res := mustQuery(t, s, f, p)
		out = append(out, res.Records...)
		if res.NextCursor == "" {
			return out
		}
		p.Cursor = res.NextCursor
	}
}

func ids(recs []record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// newestFirst sorts ids of recs by (timestamp, id) descending: the order Query promises.
func newestFirst(recs []record.Record) []string {
	sorted := slices.Clone(recs)
	slices.SortFunc(sorted, func(a, b record.Record) int {
		if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return ids(sorted)
}

func testRoundTrip(t *testing.T, open Open) {
	s := open(t)
	full := FullRecord("0195b4a0-0000-7000-8000-000000000001", "acme", base)
	sparse := record.Record{
		ID: "0195b4a0-0000-7000-8000-000000000002", Timestamp: base.Add(time.Second),
		Level: record.LevelInfo, TenantID: "acme",
	}
	mustInsert(t, s, "acme", []record.Record{full, sparse})

	for _, want := range []record.Record{full, sparse} {
		got, err := s.Get(ctx(t), "acme", want.ID)
		require.NoErrorf(t, err, "Get(%q)", want.ID)
		assert.Empty(t, RecordDiff(want, got), "Get(%q) differs from the inserted record", want.ID)
	}
	res := mustQuery(t, s, store.Filter{TenantID: "acme"}, store.Page{})
	require.Len(t, res.Records, 2, "Query's records")
	assert.Empty(t, RecordDiff(full, res.Records[1]), "Query's copy of the full record differs")
	trace, err := s.Trace(ctx(t), "acme", full.TraceID)
	require.NoError(t, err, "Trace")
	if assert.Len(t, trace, 1, "Trace's copy of the full record differs: %v", trace) {
		assert.Empty(t, RecordDiff(full, trace[0]), "Trace's copy of the full record differs")
	}
}

func testTimestampsUTC(t *testing.T, open Open) {
	s := open(t)
	india := time.FixedZone("IST", 5*3600+1800)
	r := record.Record{
		ID: "ts-1", Timestamp: time.Date(2024, 2, 29, 23, 59, 59, 999999999, india),
		ObservedTimestamp: time.Date(2024, 3, 1, 0, 0, 0, 1, india), Level: record.LevelInfo,
	}
	mustInsert(t, s, "acme", []record.Record{r})
	got, err := s.Get(ctx(t), "", "ts-1")
	require.NoError(t, err, "Get")
	r.TenantID = "acme"
	assert.Empty(t, RecordDiff(r, got), "a record written in another zone differs")
	assert.Equal(t, 999999999, got.Timestamp.Nanosecond(), "Timestamp's ns")
}

func testIdempotentInsert(t *testing.T, open Open) {
	s := open(t)
	first := simpleRecords("dup", "acme", 5, time.Second)
	mustInsert(t, s, "acme", first)
	mustInsert(t, s, "acme", first) // a replay of the same batch

	// A later batch mixing two known ids (with altered content) and two new ones, where one of
	// the new ids also appears twice.
	changed := slices.Clone(first[:2])
	for i := range changed {
		changed[i].Message = "altered by a replay"
	}
	fresh := simpleRecords("new", "acme", 2, time.Second)
	mixed := append(append(changed, fresh...), fresh[0])
	mustInsert(t, s, "acme", mixed)

	all := queryAll(t, s, store.Filter{}, 1000)
	require.Len(t, all, 7, "stored records after replays: %v", ids(all))
	for _, want := range first[:2] {
		got, err := s.Get(ctx(t), "acme", want.ID)
		require.NoErrorf(t, err, "Get(%q)", want.ID)
		assert.Equal(t, want.Message, got.Message, "record %s: the first write must win", want.ID)
	}
}

func testTenantFilledFromBatch(t *testing.T, open Open) {
	s := open(t)
	recs := simpleRecords("fill", "", 3, time.Second)
	recs[2].TenantID = "acme" // same as the batch: allowed
	mustInsert(t, s, "acme", recs)
	for _, r := range recs {
		got, err := s.Get(ctx(t), "acme", r.ID)
		require.NoErrorf(t, err, "Get(acme, %q)", r.ID)
		assert.Equal(t, "acme", got.TenantID, "record %s stored under tenant", r.ID)
	}
	assert.Empty(t, recs[0].TenantID, "Insert modified the caller's record: TenantID")
}

func testTenantMismatch(t *testing.T, open Open) {
	s := open(t)
	recs := simpleRecords("mix", "acme", 3, time.Second)
	recs[1].TenantID = "globex"
	_, err := s.Insert(ctx(t), "acme", recs)
	require.Error(t, err, "Insert accepted a globex record in an acme batch")
	// Retrying cannot fix it: the DLQ must set such a batch aside at once, not rescan it.
	assert.ErrorIs(t, err, store.ErrInvalidRecord, "Insert; want an error wrapping store.ErrInvalidRecord")
	got := queryAll(t, s, store.Filter{}, 1000)
	assert.Empty(t, got, "a refused batch stored %d records: %v", len(got), ids(got))
}

func testEmptyInsert(t *testing.T, open Open) {
	s := open(t)
	_, err := s.Insert(ctx(t), "acme", nil)
	require.NoError(t, err, "Insert(nil)")
	res := mustQuery(t, s, store.Filter{}, store.Page{})
	assert.Empty(t, res.Records, "an empty store returned %+v", res)
	assert.Empty(t, res.NextCursor, "an empty store returned %+v", res)
}

func testFilters(t *testing.T, open Open) {
	s := open(t)
	fixture := filterFixture()
	mustInsert(t, s, "acme", fixture[:8])
	mustInsert(t, s, "globex", fixture[8:])

	tests := []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"no filter returns every tenant's records newest first", store.Filter{},
			[]string{"r09", "r08", "r07", "r06", "r05", "r04", "r03", "r02", "r01"}},
		{"tenant returns only that tenant's records", store.Filter{TenantID: "acme"},
			[]string{"r08", "r07", "r06", "r05", "r04", "r03", "r02", "r01"}},
		{"an unknown tenant returns nothing", store.Filter{TenantID: "initech"}, nil},
		{"levels return any of the listed levels", store.Filter{Levels: []record.Level{record.LevelWarn, record.LevelSecurity}},
			[]string{"r08", "r04", "r02"}},
		{"min level returns that level and the more severe ones", store.Filter{MinLevel: record.LevelError},
			[]string{"r09", "r04", "r03"}},
		{"event matches exactly", store.Filter{Event: "user.login"},
			[]string{"r09", "r04", "r02", "r01"}},
		{"user id matches exactly", store.Filter{UserID: "u1"},
			[]string{"r09", "r07", "r03", "r01"}},
		{"actor id matches exactly", store.Filter{ActorID: "admin-1"}, []string{"r03"}},
		{"entity id matches exactly", store.Filter{EntityID: "doc-1"},
			[]string{"r09", "r06", "r03"}},
		{"entity type matches exactly", store.Filter{EntityType: "document"},
			[]string{"r09", "r08", "r06", "r03"}},
		{"company id matches exactly", store.Filter{CompanyID: "c2"}, []string{"r08", "r06", "r03"}},
		{"company id is not a prefix match", store.Filter{CompanyID: "c"}, nil},
		{"employee id matches exactly", store.Filter{EmployeeID: "e1"},
			[]string{"r09", "r07", "r03", "r01"}},
		{"scope matches exactly", store.Filter{Scope: "db"}, []string{"r08", "r03"}},
		{"service name matches exactly", store.Filter{ServiceName: "docs"}, []string{"r08", "r06", "r03"}},
		{"a tag matches records holding it", store.Filter{Tags: []string{"failure"}},
			[]string{"r09", "r08", "r04", "r02"}},
		{"several tags must all be present", store.Filter{Tags: []string{"login", "failure"}},
			[]string{"r09", "r04", "r02"}},
		{"a tag is an exact element, not a substring", store.Filter{Tags: []string{"log"}}, nil},
		{"a tag no record holds matches nothing", store.Filter{Tags: []string{"login", "sharing"}}, nil},
		{"trace id matches exactly", store.Filter{TraceID: "0af7651916cd43dd8448eb211c80319c"},
			[]string{"r09", "r04", "r03"}},
		{"ip matches exactly", store.Filter{IP: "10.0.0.1"},
			[]string{"r09", "r07", "r03", "r01"}},
		{"start is inclusive", store.Filter{Start: at(4)},
			[]string{"r09", "r08", "r07", "r06", "r05"}},
		{"end is exclusive", store.Filter{End: at(4)},
			[]string{"r04", "r03", "r02", "r01"}},
		{"start and end select a window", store.Filter{Start: at(2), End: at(5)},
			[]string{"r05", "r04", "r03"}},
		{"a window one nanosecond wide holds the record at its start", store.Filter{Start: at(2), End: at(2).Add(time.Nanosecond)},
			[]string{"r03"}},
		{"text finds a word of the message", store.Filter{Text: "failed"},
			[]string{"r09", "r04", "r02"}},
		{"text finds a word of an attribute value", store.Filter{Text: "expired"}, []string{"r02"}},
		{"text finds a word of the event", store.Filter{Text: "delete"}, []string{"r08", "r03"}},
		{"text finds a tag", store.Filter{Text: "risky"}, []string{"r04"}},
		{"new filters combine with the others", store.Filter{TenantID: "acme", CompanyID: "c1", Scope: "auth", ServiceName: "web", Tags: []string{"failure"}, MinLevel: record.LevelWarn},
			[]string{"r04", "r02"}},
		{"filters combine with AND", store.Filter{TenantID: "acme", UserID: "u2", MinLevel: record.LevelWarn},
			[]string{"r08", "r02"}},
		{"text combines with the other filters", store.Filter{TenantID: "acme", Text: "login", MinLevel: record.LevelWarn},
			[]string{"r04", "r02"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(queryAll(t, s, tc.filter, 2))
			assert.True(t, slices.Equal(got, tc.want), "Query(%+v) = %v, want %v", tc.filter, got, tc.want)
		})
	}
}

func testTenantIsolation(t *testing.T, open Open) {
	s := open(t)
	// The same events in both tenants: same users, events, traces, IPs and words.
	for _, tenant := range []string{"acme", "globex"} {
		recs := filterFixture()
		for i := range recs {
			recs[i].ID = tenant + "-" + recs[i].ID
			recs[i].TenantID = tenant
		}
		mustInsert(t, s, tenant, recs)
	}
	filters := []store.Filter{
		{}, {UserID: "u1"}, {Event: "user.login"}, {ActorID: "u2"}, {EntityID: "doc-1"},
		{TraceID: "0af7651916cd43dd8448eb211c80319c"}, {IP: "10.0.0.1"}, {Text: "login"},
		{MinLevel: record.LevelWarn}, {Start: at(0), End: at(100)},
		{CompanyID: "c1"}, {EmployeeID: "e1"}, {EntityType: "document"}, {Scope: "auth"},
		{ServiceName: "web"}, {Tags: []string{"login"}},
	}
	for _, f := range filters {
		f.TenantID = "acme"
		got := queryAll(t, s, f, 3)
		assert.NotEmpty(t, got, "Query(%+v) returned nothing; the isolation check needs matches", f)
		for _, r := range got {
			assert.Equal(t, "acme", r.TenantID, "Query(%+v) returned %s of tenant %q", f, r.ID, r.TenantID)
			assert.True(t, strings.HasPrefix(r.ID, "acme-"), "Query(%+v) returned %s of tenant %q", f, r.ID, r.TenantID)
		}
		f.TenantID = ""
		assert.Len(t, queryAll(t, s, f, 3), 2*len(got), "Query(%+v) across tenants, want twice acme's %d", f, len(got))
	}

	_, err := s.Get(ctx(t), "acme", "globex-r01")
	assert.ErrorIs(t, err, store.ErrNotFound, "Get(acme, globex-r01)")
	r, err := s.Get(ctx(t), "", "globex-r01")
	if assert.NoError(t, err, "Get across tenants") {
		assert.Equal(t, "globex", r.TenantID, "Get across tenants = %+v; want the globex record", r)
	}
	trace, err := s.Trace(ctx(t), "globex", "0af7651916cd43dd8448eb211c80319c")
	require.NoError(t, err, "Trace")
	assert.NotEmpty(t, trace, "Trace(globex) returned nothing")
	for _, r := range trace {
		assert.Equal(t, "globex", r.TenantID, "Trace(globex) returned %s", r.ID)
	}
}

func testPagination(t *testing.T, open Open) {
	s := open(t)
	// Groups of seven records share a timestamp, so the id must break ties; ids are inserted
	// in shuffled order so that insertion order cannot pass for the id order.
	var recs []record.Record
	for i := 0; i < 250; i++ {
		ts := base.Add(time.Duration(i/7) * time.Millisecond)
		recs = append(recs, record.Record{ID: fmt.Sprintf("p-%03d", (i*37)%250), Timestamp: ts, ObservedTimestamp: ts, Level: record.LevelInfo})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	mustInsert(t, s, "acme", recs)
	want := newestFirst(recs)

	for _, limit := range []int{1, 17, 50, 249, 250, 1000} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			p := store.Page{Limit: limit}
			for {
				res := mustQuery(t, s, store.Filter{TenantID: "acme"}, p)
				got = append(got, ids(res.Records)...)
				if res.NextCursor == "" {
					break
				}
				require.Len(t, res.Records, limit, "a page with a next cursor")
				require.LessOrEqual(t, len(got), len(want), "pagination returned more than the %d records stored", len(want))
				p.Cursor = res.NextCursor
			}
			assert.True(t, slices.Equal(got, want), "walk with limit %d returned %d records, not every record once in order", limit, len(got))
		})
	}
}

func testCursorStability(t *testing.T, open Open) {
	s := open(t)
	initial := simpleRecords("old", "acme", 300, time.Second)
	mustInsert(t, s, "acme", initial)
	want := newestFirst(initial)

	// The inserter writes records around, between and on the initial timestamps (newer,
	// older, and equal ones whose ids sort on both sides of the initial ids) until stopped.
	var (
		batches atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		failure atomic.Value
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(3, 4))
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			batch := make([]record.Record, 10)
			for i := range batch {
				ts := base.Add(time.Duration(rng.IntN(320)-10) * time.Second)
				prefix := "new"
				if rng.IntN(2) == 0 {
					prefix = "aaa" // sorts before "old" at an equal timestamp
				}
				batch[i] = record.Record{ID: fmt.Sprintf("%s-%d-%d", prefix, n, i), Timestamp: ts, ObservedTimestamp: ts, Level: record.LevelInfo}
			}
			if _, err := s.Insert(context.Background(), "acme", batch); err != nil {
				failure.Store(err)
				return
			}
			batches.Add(1)
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	seen := map[string]bool{}
	var walk []string
	var prev *record.Record
	p := store.Page{Limit: 20}
	for {
		// Every page waits for at least one more concurrent batch, so rows are inserted
		// between every two pages.
		target := batches.Load() + 1
		for batches.Load() < target {
			err, _ := failure.Load().(error)
			require.NoError(t, err, "concurrent Insert")
			time.Sleep(time.Millisecond)
		}
		res := mustQuery(t, s, store.Filter{TenantID: "acme"}, p)
		for i := range res.Records {
			r := res.Records[i]
			require.False(t, seen[r.ID], "record %s returned twice", r.ID)
			seen[r.ID] = true
			if prev != nil {
				require.False(t, r.Timestamp.After(prev.Timestamp) || r.Timestamp.Equal(prev.Timestamp) && r.ID > prev.ID,
					"record %s follows %s out of order", r.ID, prev.ID)
			}
			prev = &res.Records[i]
			if strings.HasPrefix(r.ID, "old-") {
				walk = append(walk, r.ID)
			}
		}
		if res.NextCursor == "" {
			break
		}
		p.Cursor = res.NextCursor
	}
	assert.True(t, slices.Equal(walk, want), "the walk returned %d initial records, want each of the %d exactly once in order", len(walk), len(want))
}

func testLimits(t *testing.T, open Open) {
	s := open(t)
	mustInsert(t, s, "acme", simpleRecords("lim", "acme", store.MaxLimit+5, time.Millisecond))
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"a zero limit returns the default page", 0, store.DefaultLimit},
		{"a negative limit returns the default page", -3, store.DefaultLimit},
		{"a limit above the maximum returns the maximum", store.MaxLimit * 10, store.MaxLimit},
		{"a limit in range is honoured", 7, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := mustQuery(t, s, store.Filter{}, store.Page{Limit: tc.limit})
			assert.Len(t, res.Records, tc.want, "Limit %d", tc.limit)
			assert.NotEmpty(t, res.NextCursor, "a page followed by more records has no next cursor")
		})
	}
}

func testTrace(t *testing.T, open Open) {
	s := open(t)
	const trace, other = "4bf92f3577b34da6a3ce929d0e0e4736", "00000000000000000000000000000abc"
	var recs []record.Record
	for i := 0; i < 12; i++ {
		ts := base.Add(time.Duration(i/3) * time.Microsecond) // ties broken by id
		id := fmt.Sprintf("tr-%02d", (i*5)%12)
		tid := trace
		if i%4 == 3 {
			tid = other
		}
		recs = append(recs, record.Record{ID: id, Timestamp: ts, ObservedTimestamp: ts, Level: record.LevelInfo, TraceID: tid})
	}
	recs = append(recs, record.Record{ID: "no-trace", Timestamp: base, Level: record.LevelInfo})
	rng := rand.New(rand.NewPCG(5, 6))
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	mustInsert(t, s, "acme", recs)

	var want []record.Record
	for _, r := range recs {
		if r.TraceID == trace {
			want = append(want, r)
		}
	}
	oldestFirst := newestFirst(want)
	slices.Reverse(oldestFirst)

	got, err := s.Trace(ctx(t), "acme", trace)
	require.NoError(t, err, "Trace")
	assert.Equal(t, oldestFirst, ids(got), "Trace")
	got, err = s.Trace(ctx(t), "", trace)
	if assert.NoError(t, err, "Trace across tenants") {
		assert.Len(t, got, len(want), "Trace across tenants")
	}
	got, err = s.Trace(ctx(t), "acme", "ffffffffffffffffffffffffffffffff")
	assert.NoError(t, err, "Trace of an unknown trace")
	assert.Empty(t, got, "Trace of an unknown trace, want no records")
}

func testTextSearch(t *testing.T, open Open) {
	s := open(t)
	fixture := filterFixture()
	mustInsert(t, s, "acme", fixture[:8])
	mustInsert(t, s, "globex", fixture[8:])

	tests := []struct {
		name string
		text string
		want []string
	}{
		{"plain words must all appear", "login failed", []string{"r09", "r04", "r02"}},
		{"words ignore case", "LOGIN Failed", []string{"r09", "r04", "r02"}},
		{"a quoted phrase needs its words in order", `"failed from"`, []string{"r04"}},
		{"a phrase in another order matches nothing", `"failed login"`, nil},
		{"an email address in an attribute is found as typed", "carol@example.com", []string{"r06"}},
		{"an attribute value word is found", "high", []string{"r04"}},
		{"a prefix matches longer words", "log*", []string{"r09", "r07", "r04", "r02", "r01"}},
		{"OR matches either word", "refreshed OR viewed", []string{"r06", "r05"}},
		{"NOT excludes a word", "login NOT globex NOT succeeded", []string{"r04", "r02"}},
		{"parentheses group", "(refreshed OR viewed) NOT cache", []string{"r06"}},
		{"lowercase operators are words", "login and failed", nil},
		{"a word nobody wrote matches nothing", "zebra", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(queryAll(t, s, store.Filter{Text: tc.text}, 100))
			assert.True(t, slices.Equal(got, tc.want), "Text %q = %v, want %v", tc.text, got, tc.want)
		})
	}
}

func testInvalidCursor(t *testing.T, open Open) {
	s := open(t)
	mustInsert(t, s, "acme", simpleRecords("c", "acme", 3, time.Second))
	for _, c := range []string{"not base64!", "bm9wZQ", store.Cursor{TimestampNanos: 1, ID: "x"}.Encode()[1:]} {
		_, err := s.Query(ctx(t), store.Filter{}, store.Page{Cursor: c})
		assert.ErrorIs(t, err, store.ErrInvalidCursor, "Query with cursor %q", c)
	}
}

func testBadSearch(t *testing.T, open Open) {
	s := open(t)
	mustInsert(t, s, "acme", filterFixture()[:3])
	for _, text := range []string{`"login failed`, `(login OR logout`, `login)`, `login OR`, `AND login`, `NOT login`, `()`} {
		_, err := s.Query(ctx(t), store.Filter{Text: text}, store.Page{})
		assert.ErrorIs(t, err, store.ErrInvalidQuery, "Text %q", text)
	}
}

func testIDsAreScopedToTheirTenant(t *testing.T, open Open) {
	s := open(t)
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	globex := record.Record{ID: "order-42", TenantID: "globex", Timestamp: ts, ObservedTimestamp: ts,
		Level: record.LevelInfo, Event: "order.placed", Message: "globex order", UserID: "g-1",
		Attributes: map[string]any{}, Resource: map[string]any{}}
	acme := globex
	acme.TenantID, acme.Message, acme.UserID = "acme", "acme order", "a-1"
	acme.Timestamp = ts.Add(time.Minute)
	acme.ObservedTimestamp = acme.Timestamp
	// globex writes order-42 first; acme's own order-42 must not be taken for a replay of it.
	mustInsert(t, s, "globex", []record.Record{globex})
	mustInsert(t, s, "acme", []record.Record{acme})
	mustInsert(t, s, "acme", []record.Record{acme}) // a replay within acme is still ignored

	for _, want := range []record.Record{globex, acme} {
		got, err := s.Get(ctx(t), want.TenantID, want.ID)
		require.NoErrorf(t, err, "Get(%q, %q)", want.TenantID, want.ID)
		assert.Equal(t, want.TenantID, got.TenantID, "Get(%q, %q) tenant", want.TenantID, want.ID)
		assert.Equal(t, want.Message, got.Message, "Get(%q, %q) message", want.TenantID, want.ID)
		recs := queryAll(t, s, store.Filter{TenantID: want.TenantID}, 100)
		if assert.Len(t, recs, 1, "tenant %q lists %v, want only its own %q", want.TenantID, ids(recs), want.Message) {
			assert.Equal(t, want.Message, recs[0].Message, "tenant %q lists %v, want only its own %q", want.TenantID, ids(recs), want.Message)
		}
	}
	all := queryAll(t, s, store.Filter{}, 100)
	assert.Len(t, all, 2, "an admin lists %v, want 2 (one per tenant)", ids(all))
	_, err := s.Get(ctx(t), "", "order-42")
	assert.ErrorIs(t, err, store.ErrAmbiguousID, "Get across tenants of an id two tenants hold")
	got, err := s.Get(ctx(t), "", "order-42-unique")
	assert.ErrorIs(t, err, store.ErrNotFound, "Get across tenants of an unknown id = %v", got.ID)
}

func testGetMissing(t *testing.T, open Open) {
	s := open(t)
	mustInsert(t, s, "acme", simpleRecords("g", "acme", 1, time.Second))
	for _, tenant := range []string{"", "acme"} {
		_, err := s.Get(ctx(t), tenant, "no-such-id")
		assert.ErrorIs(t, err, store.ErrNotFound, "Get(%q, no-such-id)", tenant)
	}
}

func testConcurrency(t *testing.T, open Open) {
	s := open(t)
	const writers, batches, perBatch = 4, 10, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches*2)
	for w := 0; w < writers; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			tenant := fmt.Sprintf("tenant-%d", w)
			for b := 0; b < batches; b++ {
				if _, err := s.Insert(context.Background(), tenant, simpleRecords(fmt.Sprintf("w%d-b%d", w, b), tenant, perBatch, time.Millisecond)); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				if _, err := s.Query(context.Background(), store.Filter{TenantID: fmt.Sprintf("tenant-%d", w), Text: "record"}, store.Page{Limit: 50}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err, "concurrent use")
	}
	assert.Len(t, queryAll(t, s, store.Filter{}, store.MaxLimit), writers*batches*perBatch, "stored records")
}

func testMigrateAgain(t *testing.T, open Open) {
	s := open(t)
	mustInsert(t, s, "acme", simpleRecords("m", "acme", 2, time.Second))
	require.NoError(t, s.Migrate(ctx(t)), "Migrate on a current schema")
	assert.Len(t, queryAll(t, s, store.Filter{}, 10), 2, "records after Migrate")
}

func testCloseTwice(t *testing.T, open Open) {
	s := open(t)
	require.NoError(t, s.Close(), "first Close")
	require.NoError(t, s.Close(), "second Close")
	_, err := s.Insert(ctx(t), "acme", simpleRecords("closed", "acme", 1, time.Second))
	assert.Error(t, err, "Insert after Close succeeded")
}
