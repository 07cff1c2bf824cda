package clickhousestore

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

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
	if err != nil {
		t.Fatalf("proxy listen %s: %v", p.addr, err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
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
	t.Fatalf("Insert after the server came back: %v", err)
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
	if _, err := s.Insert(ctx, "acme", outageRecords("before", 3)); err != nil {
		t.Fatalf("Insert while up: %v", err)
	}

	proxy.stop()
	start := time.Now()
	_, err := s.Insert(ctx, "acme", outageRecords("during", 3))
	if err == nil {
		t.Fatal("Insert succeeded while the server was unreachable")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Insert took %s to fail; the exporter's retry needs it to fail fast", took)
	}
	if errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("an outage was reported as invalid records (they would go to the DLQ for good): %v", err)
	}
	t.Logf("error while down: %v", err)

	proxy.start(t)
	insertEventually(t, s, outageRecords("after", 3))
	res, err := s.Query(ctx, store.Filter{Event: "outage.test"}, store.Page{})
	if err != nil {
		t.Fatalf("Query after recovery: %v", err)
	}
	if len(res.Records) != 6 {
		t.Errorf("after recovery the store holds %d records, want the 3 before and the 3 after", len(res.Records))
	}
}

func TestOpen_WithTheServerDownStillStartsAndConnectsLater(t *testing.T) {
	target := serverAddr(t)
	addr := freeAddr(t) // nothing listens here yet
	cfg := DefaultConfig()
	cfg.Endpoint = addr
	cfg.DialTimeout = time.Second
	cfg.Database = "audit_test_late_" + time.Now().Format("150405")
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open with the server down: %v; the exporter must start and hold records in its WAL", err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		cfg.Endpoint = target
		dropDatabase(t, cfg)
	})
	if s.Layout() != "" {
		t.Fatalf("Layout = %q before any server answered", s.Layout())
	}
	if _, err := s.Insert(context.Background(), "acme", outageRecords("early", 1)); err == nil {
		t.Fatal("Insert succeeded with no server")
	}

	proxy := newProxy(t, addr, target)
	proxy.start(t)
	insertEventually(t, s, outageRecords("late", 2))
	if s.Layout() != SchemaLegacy && s.Layout() != SchemaModern {
		t.Errorf("Layout = %q after connecting", s.Layout())
	}
	if _, err := s.Get(context.Background(), "acme", "late-b"); err != nil {
		t.Errorf("Get after a late connection: %v", err)
	}
}

// A second writer (another collector replaying the same WAL) can write an id this store has
// stored, between its check and its write. FINAL must hide that row before any merge, keeping
// the first write.
func TestStore_ADuplicateRowPastTheIDCheckIsHiddenByFinal(t *testing.T) {
	s := openTestStore(t, nil)
	ctx := context.Background()
	first := outageRecords("dup", 1)
	first[0].Message = "first write"
	if _, err := s.Insert(ctx, "acme", first); err != nil {
		t.Fatal(err)
	}
	d, _ := s.dialect(ctx)
	later := first[0]
	later.Message = "second write"
	row, _, err := d.encodeRecord(&later, "acme", insertVersion(time.Now().Add(time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := s.conn.PrepareBatch(ctx, d.insertSQL())
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(row...); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var raw uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+d.logs()).Scan(&raw); err != nil || raw != 2 {
		t.Fatalf("the table holds %d rows (err %v); the test needs the unmerged duplicate", raw, err)
	}
	res, err := s.Query(ctx, store.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].Message != "first write" {
		t.Errorf("Query returned %d records (%+v), want only the first write", len(res.Records), res.Records)
	}
	st, err := s.Stats(ctx, store.StatsQuery{Start: first[0].Timestamp, End: first[0].Timestamp.Add(time.Hour)})
	if err != nil || st.Total != 1 {
		t.Errorf("Stats counted %d records (err %v), want 1", st.Total, err)
	}
}
