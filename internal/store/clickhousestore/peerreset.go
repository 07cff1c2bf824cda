package clickhousestore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// A store on a cluster reads and writes through tables that make the connected server talk to
// the other servers over connections it keeps in a pool. 18.16 can put such a connection back
// into its pool out of step with the server at the other end; every later query that draws it
// then fails with "Unexpected packet from server <peer> (expected TablesStatusResponse, got
// Data)" (or "Unknown packet"), for as long as the socket stays open. Seen once in CI after a
// shard was killed and restarted under the exporter's load: the records waited in the DLQ and
// every retry failed the same way until the test gave up, and ON CLUSTER statements queued
// behind the stuck peer. The server drops and re-creates every cluster's pool when it reloads
// its configuration, so on such an error the store asks for that (SYSTEM RELOAD CONFIG, at most
// once per peerResetInterval) and the caller's next retry gets fresh connections.

// peerResetInterval spaces the store's SYSTEM RELOAD CONFIG: the retries of several batches
// failing at once need one reload, not one each.
const peerResetInterval = 5 * time.Second

// peerOutOfStep reports the server's answers that mean its connection to another server is
// out of step: UNKNOWN_PACKET_FROM_SERVER (100) and UNEXPECTED_PACKET_FROM_SERVER (102).
// (The same codes raised by the driver for this store's own connection would come without
// the server's "Received from" wrapper, as a driver error rather than a clickhouse.Exception.)
func peerOutOfStep(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && (ex.Code == 100 || ex.Code == 102)
}

// peerResettingConn is a conn that, when a statement fails with peerOutOfStep, makes the
// server re-create its pools of connections to the other servers.
type peerResettingConn struct {
	conn
	// last is the Unix nanoseconds of the last reset asked for.
	last atomic.Int64
	now  func() time.Time
}

func newPeerResettingConn(c conn) *peerResettingConn {
	return &peerResettingConn{conn: c, now: time.Now}
}

// check passes err through, after resetting the server's pools when err says one of them is
// out of step; the error then says so, for whoever logs it.
func (p *peerResettingConn) check(err error) error {
	if err == nil || !peerOutOfStep(err) {
		return err
	}
	now := p.now().UnixNano()
	last := p.last.Load()
	if now-last < int64(peerResetInterval) || !p.last.CompareAndSwap(last, now) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rerr := p.conn.Exec(ctx, "SYSTEM RELOAD CONFIG"); rerr != nil {
		return fmt.Errorf("%w (the server's connection to another server is out of step; SYSTEM RELOAD CONFIG, which would replace it, failed: %v)", err, rerr)
	}
	return fmt.Errorf("%w (the server's connection to another server was out of step; the store made it reconnect with SYSTEM RELOAD CONFIG, the next retry uses a new one)", err)
}

func (p *peerResettingConn) Exec(ctx context.Context, sql string) error {
	return p.check(p.conn.Exec(ctx, sql))
}

func (p *peerResettingConn) Query(ctx context.Context, sql string) (rows, error) {
	r, err := p.conn.Query(ctx, sql)
	if err != nil {
		return nil, p.check(err)
	}
	return checkedRows{r, p}, nil
}

func (p *peerResettingConn) QueryIDs(ctx context.Context, sql string, ids []string) (rows, error) {
	r, err := p.conn.QueryIDs(ctx, sql, ids)
	if err != nil {
		return nil, p.check(err)
	}
	return checkedRows{r, p}, nil
}

func (p *peerResettingConn) QueryRow(ctx context.Context, sql string) row {
	return checkedRow{p.conn.QueryRow(ctx, sql), p}
}

func (p *peerResettingConn) PrepareBatch(ctx context.Context, sql string) (batch, error) {
	b, err := p.conn.PrepareBatch(ctx, sql)
	if err != nil {
		return nil, p.check(err)
	}
	return checkedBatch{b, p}, nil
}

type checkedRows struct {
	rows
	p *peerResettingConn
}

func (r checkedRows) Err() error { return r.p.check(r.rows.Err()) }

type checkedRow struct {
	row
	p *peerResettingConn
}

func (r checkedRow) Scan(dest ...any) error { return r.p.check(r.row.Scan(dest...)) }

type checkedBatch struct {
	batch
	p *peerResettingConn
}

func (b checkedBatch) Flush() error { return b.p.check(b.batch.Flush()) }
func (b checkedBatch) Send() error  { return b.p.check(b.batch.Send()) }
