package storefollow

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/livetail"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore"
)

func serverAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			require.FailNow(t, "CLICKHOUSE_ADDR is not set under CI: run scripts/clickhouse/start.sh and export what it prints")
		}
		t.Skip("CLICKHOUSE_ADDR is not set (under CI this fails instead); run eval \"$(scripts/clickhouse/start.sh)\"")
	}
	return addr
}

// openStore opens a ClickHouse store on a database of its own, dropped when the test ends.
func openStore(t *testing.T, database string) *clickhousestore.Store {
	t.Helper()
	cfg := clickhousestore.DefaultConfig()
	cfg.Endpoint = serverAddr(t)
	cfg.Database = database
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := clickhousestore.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = s.Close()
		execSQL(t, "DROP DATABASE IF EXISTS `"+database+"`")
	})
	return s
}

func execSQL(t *testing.T, sql string) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{serverAddr(t)}})
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, conn.Exec(ctx, sql), sql)
}

func databaseName(t *testing.T, role string) string {
	return fmt.Sprintf("follow_%d_%d_%s", os.Getpid(), time.Now().UnixNano(), role)
}

// published collects what a Follower publishes.
type published struct {
	mu    sync.Mutex
	count map[string]int
}

func (p *published) add(recs []record.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count == nil {
		p.count = map[string]int{}
	}
	for _, r := range recs {
		p.count[r.TenantID+"/"+r.ID]++
	}
}

func (p *published) times(tenant, id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[tenant+"/"+id]
}

func rec(tenant, id string) record.Record {
	now := time.Now().UTC()
	return record.Record{ID: id, TenantID: tenant, Timestamp: now, ObservedTimestamp: now,
		Level: record.LevelInfo, Event: "doc.read", Message: id}
}

func insert(t *testing.T, s store.Store, recs ...record.Record) {
	t.Helper()
	n, err := s.Insert(context.Background(), recs[0].TenantID, recs)
	require.NoError(t, err)
	require.Equal(t, len(recs), n)
}

func poll(t *testing.T, f *Follower) int {
	t.Helper()
	n, err := f.Poll(context.Background())
	require.NoError(t, err)
	return n
}

var opts = Options{PollInterval: time.Second, Overlap: 10 * time.Second, PageSize: 2, MaxRecentIDs: 1000}

// Another collector's batch stamped before records already read, committed after them (a
// slow insert): the overlap re-read finds it, and it is published once.
func TestFollower_ALateCommitWithinTheOverlapIsDelivered(t *testing.T) {
	mainDB, lateDB := databaseName(t, "main"), databaseName(t, "late")
	shared := openStore(t, mainDB)
	late := openStore(t, lateDB)
	var got published
	f := New(shared, got.add, opts, Metrics{})

	insert(t, shared, rec("acme", "a1"))
	assert.Equal(t, 1, poll(t, f), "the first record")
	// Stamped now, committed to the shared table only after b1 and b2 are read: its rows are
	// written to a table of their own first, then copied with the stamp they got there.
	insert(t, late, rec("acme", "late"))
	time.Sleep(20 * time.Millisecond)
	insert(t, shared, rec("acme", "b1"), rec("acme", "b2"), rec("acme", "b3"))
	assert.Equal(t, 3, poll(t, f), "three records over two pages")
	execSQL(t, "INSERT INTO `"+mainDB+"`.audit_logs SELECT * FROM `"+lateDB+"`.audit_logs")

	assert.Equal(t, 1, poll(t, f), "the late commit")
	assert.Equal(t, 0, poll(t, f), "nothing new")
	for _, id := range []string{"a1", "late", "b1", "b2", "b3"} {
		assert.Equalf(t, 1, got.times("acme", id), "times %s was published", id)
	}
}

// Past the overlap a late commit is not streamed: the bound is real, and documented.
func TestFollower_ACommitLaterThanTheOverlapIsNotStreamed(t *testing.T) {
	mainDB, lateDB := databaseName(t, "main"), databaseName(t, "late")
	shared := openStore(t, mainDB)
	late := openStore(t, lateDB)
	var got published
	short := opts
	short.Overlap = 50 * time.Millisecond
	f := New(shared, got.add, short, Metrics{})

	insert(t, late, rec("acme", "too-late"))
	time.Sleep(200 * time.Millisecond)
	insert(t, shared, rec("acme", "c1"))
	assert.Equal(t, 1, poll(t, f))
	execSQL(t, "INSERT INTO `"+mainDB+"`.audit_logs SELECT * FROM `"+lateDB+"`.audit_logs")
	assert.Equal(t, 0, poll(t, f), "a commit 200ms late with a 50ms overlap")
	assert.Zero(t, got.times("acme", "too-late"))
}

// This collector's own commit is published at once through Local; the poll that finds it in
// the store, and every re-read of the overlap, publish nothing.
func TestFollower_ALocalCommitIsNotPublishedAgainByThePoll(t *testing.T) {
	shared := openStore(t, databaseName(t, "main"))
	var got published
	var dups int
	f := New(shared, got.add, opts, Metrics{Duplicates: func(n int) { dups += n }})

	own := []record.Record{rec("acme", "own-1"), rec("globex", "own-1")}
	insert(t, shared, own[0])
	insert(t, shared, own[1])
	f.Local(own)
	f.Local(own[:1]) // a second announcement of the same commit changes nothing
	assert.Equal(t, 0, poll(t, f), "records already published locally")
	assert.Equal(t, 0, poll(t, f), "the overlap re-read")
	assert.Equal(t, 1, got.times("acme", "own-1"))
	assert.Equal(t, 1, got.times("globex", "own-1"), "the same id in another tenant is another record")
	assert.Equal(t, 4, dups, "two polls each found both records and suppressed them")
}

// What the follower publishes reaches a stream only through the stream's matcher, as local
// commits do: a tenant's subscriber never sees another tenant's records.
func TestFollower_SubscribersSeeOnlyTheirTenantsRecords(t *testing.T) {
	shared := openStore(t, databaseName(t, "main"))
	hub := livetail.New(livetail.Options{BufferSize: 100})
	defer hub.Close()
	acme, err := hub.Subscribe(livetail.NewMatcher(store.Filter{TenantID: "acme"}))
	require.NoError(t, err)
	globex, err := hub.Subscribe(livetail.NewMatcher(store.Filter{TenantID: "globex"}))
	require.NoError(t, err)
	f := New(shared, hub.Publish, opts, Metrics{})

	insert(t, shared, rec("acme", "x1"), rec("acme", "x2"))
	insert(t, shared, rec("globex", "y1"))
	assert.Equal(t, 3, poll(t, f))

	drain := func(s *livetail.Subscription) []string {
		var ids []string
		for {
			ev, ok, err := s.TryNext()
			require.NoError(t, err)
			if !ok {
				return ids
			}
			ids = append(ids, ev.Entry.Record.TenantID+"/"+ev.Entry.Record.ID)
		}
	}
	assert.Equal(t, []string{"acme/x1", "acme/x2"}, drain(acme))
	assert.Equal(t, []string{"globex/y1"}, drain(globex))
}

// The remembered ids are bounded by the overlap: once the watermark has moved past, they are
// forgotten.
func TestFollower_RemembersOnlyWhatTheOverlapCanReturn(t *testing.T) {
	shared := openStore(t, databaseName(t, "main"))
	var got published
	short := opts
	short.Overlap = 100 * time.Millisecond
	f := New(shared, got.add, short, Metrics{})
	insert(t, shared, rec("acme", "old-1"), rec("acme", "old-2"))
	poll(t, f)
	require.Equal(t, 2, f.remembered())
	time.Sleep(300 * time.Millisecond)
	insert(t, shared, rec("acme", "new-1"))
	poll(t, f)
	assert.Equal(t, 1, f.remembered(), "only the record within the overlap of the watermark")
}

func TestRecentIDs_TheBoundEvictsTheOldestAndCountsIt(t *testing.T) {
	s := newRecentIDs(2)
	now := time.Now()
	for i, id := range []string{"a", "b", "c"} {
		r := rec("acme", id)
		isNew, evicted := s.admit(&r, now.Add(time.Duration(i)))
		assert.True(t, isNew)
		assert.Equal(t, map[bool]int{true: 1, false: 0}[id == "c"], evicted)
	}
	a := rec("acme", "a")
	isNew, _ := s.admit(&a, now)
	assert.True(t, isNew, "an evicted id is no longer known")
	c := rec("acme", "c")
	isNew, _ = s.admit(&c, now)
	assert.False(t, isNew)
}
