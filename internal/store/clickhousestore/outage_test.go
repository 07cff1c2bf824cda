package clickhousestore

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// tcpProxy forwards a loopback port to the test server and can be cut and restored, which is
// what a server restart or a network outage looks like to the store.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func newProxy(t *testing.T, addr, target string) *tcpProxy {
	p := &tcpProxy{addr: addr, target: target}
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoErrorf(t, err, "proxy listen %s", p.addr)
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// stop closes the listener and every forwarded connection: the server is gone.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func outageRecords(prefix string, n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		ts := time.Date(2025, 3, 14, 9, 0, i, 0, time.UTC)
		out[i] = record.Record{ID: prefix + "-" + string(rune('a'+i)), Timestamp: ts, Level: record.LevelInfo, Event: "outage.test"}
	}
	return out
}

// insertEventually retries like the exporter does, briefly: the first attempt after an outage
// may meet a pooled connection that died with it.
func insertEventually(t *testing.T, s *Store, recs []record.Record) {
	t.Helper()
	var err error
	for range 5 {
		if _, err = s.Insert(context.Background(), "acme", recs); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.NoError(t, err, "Insert after the server came back")
}

func TestStore_InsertFailsFastWhileTheServerIsDownAndRecoversAfter(t *testing.T) {
	target := serverAddr(t)
	proxy := newProxy(t, freeAddr(t), target)
	proxy.start(t)
	s := openTestStore(t, func(c *Config) {
		c.Endpoint = proxy.addr
		c.DialTimeout = time.Second
	})
	ctx := context.Background()
	_, err := s.Insert(ctx, "acme", outageRecords("before", 3))
	require.NoError(t, err, "Insert while up")

	proxy.stop()
	start := time.Now()
	_, err = s.Insert(ctx, "acme", outageRecords("during", 3))
	require.Error(t, err, "Insert succeeded while the server was unreachable")
	took := time.Since(start)
	assert.LessOrEqual(t, took, 5*time.Second, "Insert took %s to fail; the exporter's retry needs it to fail fast", took)
	assert.NotErrorIs(t, err, store.ErrInvalidRecord, "an outage was reported as invalid records (they would go to the DLQ for good)")
	t.Logf("error while down: %v", err)

	proxy.start(t)
	insertEventually(t, s, outageRecords("after", 3))
	res, err := s.Query(ctx, store.Filter{Event: "outage.test"}, store.Page{})
	require.NoError(t, err, "Query after recovery")
	assert.Len(t, res.Records, 6, "after recovery the store should hold the 3 records before and the 3 after")
}

func TestOpen_WithTheServerDownStillStartsAndConnectsLater(t *testing.T) {
	target := serverAddr(t)
	addr := freeAddr(t) // nothing listens here yet
	cfg := DefaultConfig()
	cfg.Endpoint = addr
	cfg.DialTimeout = time.Second
	cfg.Database = "audit_test_late_" + time.Now().Format("150405")
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err, "Open with the server down; the exporter must start and hold records in its WAL")
	t.Cleanup(func() {
		_ = s.Close()
		cfg.Endpoint = target
		dropDatabase(t, cfg)
	})
	require.Empty(t, s.Layout(), "Layout before any server answered")
	_, err = s.Insert(context.Background(), "acme", outageRecords("early", 1))
	require.Error(t, err, "Insert succeeded with no server")

	proxy := newProxy(t, addr, target)
	proxy.start(t)
	insertEventually(t, s, outageRecords("late", 2))
	assert.Contains(t, []string{SchemaLegacy, SchemaModern}, s.Layout(), "Layout after connecting")
	_, err = s.Get(context.Background(), "acme", "late-b")
	assert.NoError(t, err, "Get after a late connection")
}

// A second writer (another collector replaying the same WAL) can write an id this store has
// stored, between its check and its write. FINAL must hide that row before any merge, keeping
// the first write.
func TestStore_ADuplicateRowPastTheIDCheckIsHiddenByFinal(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := context.Background()
	first := outageRecords("dup", 1)
	first[0].Message = "first write"
	_, err := s.Insert(ctx, "acme", first)
	require.NoError(t, err)
	d, _ := s.dialect(ctx)
	later := first[0]
	later.Message = "second write"
	row, _, err := d.encodeRecord(&later, "acme", insertVersion(time.Now().Add(time.Second)))
	require.NoError(t, err)
	batch, err := s.conn.PrepareBatch(ctx, d.insertSQL())
	require.NoError(t, err)
	require.NoError(t, batch.Append(row...))
	require.NoError(t, batch.Send())
	var raw uint64
	require.NoError(t, s.conn.QueryRow(ctx, "SELECT count() FROM "+d.logs()).Scan(&raw), "count the table's rows")
	require.EqualValues(t, 2, raw, "the table's rows; the test needs the unmerged duplicate")
	res, err := s.Query(ctx, store.Filter{}, store.Page{})
	require.NoError(t, err)
	if assert.Len(t, res.Records, 1, "Query returned %+v, want only the first write", res.Records) {
		assert.Equal(t, "first write", res.Records[0].Message, "Query, want only the first write")
	}
	st, err := s.Stats(ctx, store.StatsQuery{Start: first[0].Timestamp, End: first[0].Timestamp.Add(time.Hour)})
	if assert.NoError(t, err, "Stats") {
		assert.EqualValues(t, 1, st.Total, "Stats counted records")
	}
}

// CheckHealth says what a query would meet: ok while the server answers, ErrUnavailable while
// it is unreachable, ok again once it is back.
func TestCheckHealth_FollowsTheServer(t *testing.T) {
	proxy := newProxy(t, freeAddr(t), serverAddr(t))
	proxy.start(t)
	s := openTestStore(t, func(c *Config) {
		c.Endpoint = proxy.addr
		c.DialTimeout = time.Second
	})
	ctx := context.Background()
	require.NoError(t, s.CheckHealth(ctx), "while the server answers")

	proxy.stop()
	start := time.Now()
	err := s.CheckHealth(ctx)
	assert.ErrorIs(t, err, store.ErrUnavailable, "while the server is unreachable")
	assert.Contains(t, err.Error(), proxy.addr, "the error names the server")
	assert.Less(t, time.Since(start), 5*time.Second, "a health probe must not hang")

	proxy.start(t)
	assert.Eventually(t, func() bool { return s.CheckHealth(ctx) == nil }, 10*time.Second, 200*time.Millisecond, "after the server came back")
}
