package clickhousestore

import (
	"context"
	"errors"
	"net"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// conn is every call the store makes on ClickHouse, and nothing more: statements are complete
// SQL text (the store quotes its own literals, see quoteString), and rows are written as
// native batches. Production uses nativeConn (clickhouse-go's native protocol); the tests built
// with the chdb tag use a chDB engine in-process behind the same calls (chdb_conn_test.go), so
// that the modern layout runs through the driver's column encoders and decoders on a current
// ClickHouse, which CI has no server of.
type conn interface {
	Exec(ctx context.Context, sql string) error
	Query(ctx context.Context, sql string) (rows, error)
	QueryRow(ctx context.Context, sql string) row
	// QueryIDs runs sql, in which the table idsTable holds ids (one column, id String). The ids
	// travel beside the statement as data, not in its text: on 18.16 a lookup of 10,000 ids
	// took about 105 ms as IN lists of literals, which the server parses, and 10 to 15 ms as a
	// table (clickhousestore README, "Insert speed").
	QueryIDs(ctx context.Context, sql string, ids []string) (rows, error)
	// PrepareBatch starts a native INSERT block for sql, "INSERT INTO db.table (c1, c2, ...)".
	PrepareBatch(ctx context.Context, sql string) (batch, error)
	// Ping checks that the server answers (the health check's probe).
	Ping(ctx context.Context) error
	Close() error
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

type row interface {
	Scan(dest ...any) error
}

type batch interface {
	Append(values ...any) error
	// AppendColumn appends values, a []T of the column's type, to column i; every column of a
	// block gets the same number of values before Flush or Send.
	AppendColumn(i int, values any) error
	// Flush sends the rows appended so far as one block of the same INSERT.
	Flush() error
	Send() error
	Abort() error
}

// nativeConn is conn over clickhouse-go's driver.Conn.
type nativeConn struct{ c driver.Conn }

func (n nativeConn) Exec(ctx context.Context, sql string) error { return n.c.Exec(ctx, sql) }

// A read that fails because its pooled connection was already closed is run once more.
// clickhouse-go can hand out an idle connection that something closed meanwhile; the read then
// fails at once with "use of closed network connection" (net.ErrClosed), as a store's first
// read after Open did once in CI. The failed connection leaves the pool, and a SELECT is safe
// to repeat. Exec and inserts are not retried: a statement sent may have run.

func (n nativeConn) Query(ctx context.Context, sql string) (rows, error) {
	r, err := n.c.Query(ctx, sql)
	if errors.Is(err, net.ErrClosed) {
		r, err = n.c.Query(ctx, sql)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// QueryIDs sends ids as the native protocol's external data: a table of the query's own, which
// the server reads as a block and forwards to the shards of a Distributed table.
func (n nativeConn) QueryIDs(ctx context.Context, sql string, ids []string) (rows, error) {
	table, err := ext.NewTable(idsTable, ext.Column("id", "String"))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := table.Append(id); err != nil {
			return nil, err
		}
	}
	return n.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(table)), sql)
}

func (n nativeConn) QueryRow(ctx context.Context, sql string) row {
	return retriedRow{ctx: ctx, c: n.c, sql: sql, first: n.c.QueryRow(ctx, sql)}
}

// retriedRow is QueryRow's answer, asked again when its connection was closed (see Query).
type retriedRow struct {
	ctx   context.Context
	c     driver.Conn
	sql   string
	first driver.Row
}

func (r retriedRow) Scan(dest ...any) error {
	err := r.first.Scan(dest...)
	if errors.Is(err, net.ErrClosed) {
		err = r.c.QueryRow(r.ctx, r.sql).Scan(dest...)
	}
	return err
}

func (n nativeConn) PrepareBatch(ctx context.Context, sql string) (batch, error) {
	b, err := n.c.PrepareBatch(ctx, sql)
	if err != nil {
		return nil, err
	}
	return nativeBatch{b}, nil
}

// nativeBatch is batch over the driver's: AppendColumn is its columnar insert.
type nativeBatch struct{ driver.Batch }

func (b nativeBatch) AppendColumn(i int, values any) error { return b.Column(i).Append(values) }

func (n nativeConn) Ping(ctx context.Context) error { return n.c.Ping(ctx) }

func (n nativeConn) Close() error { return n.c.Close() }
