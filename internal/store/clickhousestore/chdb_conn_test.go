//go:build chdb

package clickhousestore

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	chdb "github.com/chdb-io/chdb-go/chdb-purego"
)

// This file is the conn of the tests built with the chdb tag: a current ClickHouse engine
// (libchdb.so, loaded by chdb-go through purego, no cgo) in this process, spoken to in
// ClickHouse's Native format, which is the native protocol's data block without the protocol
// around it. Both directions go through clickhouse-go's own code:
//   - PrepareBatch builds a proto.Block of the insert's columns with the table's types, Append
//     is the driver's Block.Append (its value conversions and column encoders), and Send encodes
//     the block with the driver's Block.Encode into a file that the engine reads with
//     INSERT ... FROM INFILE ... FORMAT Native, so the engine parses exactly the bytes the
//     driver would have sent a server;
//   - Query asks the engine for its answer in Native format and decodes the blocks with the
//     driver's Block.Decode; Scan is the driver's column ScanRow, as its rows.Scan is.
// What is not exercised: the protocol around the blocks (hello, compression, query packets,
// exceptions on the wire, settings sent with a query), which the 18.16 server in CI covers.

// Native format blocks have no block info and no custom-serialization flags: revision 0.
const nativeFormatRevision = 0

// chdbSession is the engine, one per process: chDB keeps one session at a time, and opening
// another closes the first. Statements run one at a time (the engine's connection is not safe
// for concurrent queries).
type chdbSession struct {
	mu   sync.Mutex
	conn chdb.ChdbConn
	dir  string // the engine's data, and the batch files
	tz   *time.Location
	seq  int
}

var (
	chdbOnce   sync.Once
	chdbShared *chdbSession
	chdbErr    error
)

// sharedCHDB opens the process's engine on first use; TestMain closes it (closeCHDB).
func sharedCHDB() (*chdbSession, error) {
	chdbOnce.Do(func() {
		dir, err := os.MkdirTemp("", "clickhousestore-chdb-")
		if err != nil {
			chdbErr = err
			return
		}
		c, err := chdb.NewConnectionFromConnString(filepath.Join(dir, "data"))
		if err != nil {
			chdbErr = fmt.Errorf("chdb: open a session in %s: %w", dir, err)
			return
		}
		s := &chdbSession{conn: c, dir: dir, tz: time.UTC}
		// The server's time zone is what the driver learns from its hello; here it is asked.
		blocks, err := s.queryBlocks("SELECT timezone()")
		if err == nil {
			var name string
			if err = scanBlocks(blocks, &name); err == nil {
				s.tz, err = time.LoadLocation(name)
			}
		}
		if err != nil {
			chdbErr = fmt.Errorf("chdb: time zone: %w", err)
			return
		}
		chdbShared = s
	})
	return chdbShared, chdbErr
}

// closeCHDB ends the process's engine, if it was opened.
func closeCHDB() {
	if chdbShared == nil {
		return
	}
	chdbShared.mu.Lock()
	defer chdbShared.mu.Unlock()
	chdbShared.conn.Close()
	_ = os.RemoveAll(chdbShared.dir)
}

// exec runs one statement and returns its answer in Native format.
func (s *chdbSession) exec(sql string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.conn.Query(sql, "Native")
	if err != nil {
		return nil, chdbException(err)
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return nil, chdbException(err)
	}
	return append([]byte(nil), res.Buf()...), nil // the buffer is the engine's memory
}

// writeBlock encodes block as the driver does for a server, into a new file of the session's
// directory, and returns the file's name.
func (s *chdbSession) writeBlock(block *proto.Block, prefix string) (string, error) {
	var buf chproto.Buffer
	if err := block.Encode(&buf, nativeFormatRevision); err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	s.mu.Lock()
	s.seq++
	file := filepath.Join(s.dir, fmt.Sprintf("%s-%d.native", prefix, s.seq))
	s.mu.Unlock()
	return file, os.WriteFile(file, buf.Buf, 0o600)
}

// queryBlocks runs sql and decodes its Native answer with the driver's block decoder.
func (s *chdbSession) queryBlocks(sql string) ([]*proto.Block, error) {
	out, err := s.exec(sql)
	if err != nil {
		return nil, err
	}
	// The reader buffers what it reads; handing it a bufio.Reader at least as large makes it use
	// that one, which can tell where the last block ended.
	br := bufio.NewReaderSize(bytes.NewReader(out), 1<<20)
	r := chproto.NewReader(br)
	var blocks []*proto.Block
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return blocks, nil
		}
		b := proto.NewBlock()
		b.ServerContext.Timezone = s.tz
		if err := b.Decode(r, nativeFormatRevision); err != nil {
			return nil, fmt.Errorf("chdb: decode the Native answer of %q: %w", firstLine(sql), err)
		}
		blocks = append(blocks, b)
	}
}

// exceptionText is how the engine words an exception: "Code: 60. DB::Exception: ...".
var exceptionText = regexp.MustCompile(`(?s)^Code: (\d+)\. ([A-Za-z:]+): (.*)$`)

// chdbException turns the engine's error text into the driver's Exception, which is what the
// store receives from a server for the same refusal (isServerAnswer tells by it).
func chdbException(err error) error {
	m := exceptionText.FindStringSubmatch(strings.TrimSpace(err.Error()))
	if m == nil {
		return err
	}
	code, _ := strconv.Atoi(m[1])
	return &clickhouse.Exception{Code: int32(code), Name: m[2], Message: m[3]}
}

// chdbConn is one store's conn on the shared engine: closing it leaves the engine to the
// other stores of the test run.
type chdbConn struct {
	s      *chdbSession
	mu     sync.Mutex
	closed bool
}

var _ conn = (*chdbConn)(nil)

var errCHDBClosed = errors.New("chdb: connection is closed")

func (c *chdbConn) check(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errCHDBClosed
	}
	return ctx.Err() // the engine's calls cannot be cancelled once started
}

func (c *chdbConn) Exec(ctx context.Context, sql string) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	_, err := c.s.exec(sql)
	return err
}

func (c *chdbConn) Query(ctx context.Context, sql string) (rows, error) {
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	blocks, err := c.s.queryBlocks(sql)
	if err != nil {
		return nil, err
	}
	return &chdbRows{blocks: blocks}, nil
}

// QueryIDs does what a server does with the external table the driver sends: the ids go to
// the engine as a Native block (the driver's encoder, as the driver sends them), here in a
// file that the statement reads in place of the table's name.
func (c *chdbConn) QueryIDs(ctx context.Context, sql string, ids []string) (rows, error) {
	if !strings.Contains(sql, " IN "+idsTable) {
		return nil, fmt.Errorf("chdb: QueryIDs takes a statement with IN %s, not %q", idsTable, sql)
	}
	block := proto.NewBlock()
	if err := block.AddColumn("id", "String"); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := block.Append(id); err != nil {
			return nil, err
		}
	}
	file, err := c.s.writeBlock(block, "ids")
	if err != nil {
		return nil, err
	}
	defer os.Remove(file)
	from := " IN (SELECT id FROM file(" + quoteString(file) + ", 'Native', 'id String'))"
	return c.Query(ctx, strings.ReplaceAll(sql, " IN "+idsTable, from))
}

func (c *chdbConn) QueryRow(ctx context.Context, sql string) row {
	r, err := c.Query(ctx, sql)
	return chdbRow{r: r, err: err}
}

// Ping asks the in-process engine a trivial question, as a server ping would be answered.
func (c *chdbConn) Ping(ctx context.Context) error { return c.Exec(ctx, "SELECT 1") }

func (c *chdbConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// chdbRows walks the decoded blocks row by row.
type chdbRows struct {
	blocks []*proto.Block
	block  int // index into blocks
	row    int // 1-based row of blocks[block]; 0 before the first Next
	err    error
}

func (r *chdbRows) Next() bool {
	for r.block < len(r.blocks) {
		if r.row < r.blocks[r.block].Rows() {
			r.row++
			return true
		}
		r.block, r.row = r.block+1, 0
	}
	return false
}

// Scan is the driver's rows.Scan: each column's ScanRow converts into its destination.
func (r *chdbRows) Scan(dest ...any) error {
	if r.block >= len(r.blocks) || r.row == 0 {
		return errors.New("chdb: Scan called without a row (call Next first)")
	}
	b := r.blocks[r.block]
	if len(dest) != len(b.Columns) {
		return fmt.Errorf("chdb: expected %d destination arguments in Scan, not %d", len(b.Columns), len(dest))
	}
	for i, d := range dest {
		if err := b.Columns[i].ScanRow(d, r.row-1); err != nil {
			return fmt.Errorf("chdb: scan column %s: %w", b.ColumnsNames()[i], err)
		}
	}
	return nil
}

func (r *chdbRows) Err() error   { return r.err }
func (r *chdbRows) Close() error { return nil }

// scanBlocks scans the first row of blocks into dest, sql.ErrNoRows without one (as the
// driver's QueryRow).
func scanBlocks(blocks []*proto.Block, dest ...any) error {
	r := &chdbRows{blocks: blocks}
	if !r.Next() {
		return sql.ErrNoRows
	}
	return r.Scan(dest...)
}

type chdbRow struct {
	r   rows
	err error
}

func (r chdbRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.r.Close()
	if !r.r.Next() {
		return sql.ErrNoRows
	}
	return r.r.Scan(dest...)
}

// insertStatement is the form of every INSERT the store prepares.
var insertStatement = regexp.MustCompile(`^INSERT INTO (\S+) \(([^()]*)\)$`)

// PrepareBatch does what a server does for the driver's INSERT: it answers with an empty block
// of the insert's columns and the table's types for them, here read from DESCRIBE TABLE.
func (c *chdbConn) PrepareBatch(ctx context.Context, sql string) (batch, error) {
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	m := insertStatement.FindStringSubmatch(strings.TrimSpace(sql))
	if m == nil {
		return nil, fmt.Errorf("chdb: PrepareBatch takes INSERT INTO table (columns), not %q", sql)
	}
	table, names := m[1], strings.Split(m[2], ",")
	described, err := c.s.queryBlocks("DESCRIBE TABLE " + table)
	if err != nil {
		return nil, err
	}
	types := map[string]string{}
	r := &chdbRows{blocks: described}
	for r.Next() {
		b := r.blocks[r.block]
		var name, typ string
		if err := b.Columns[0].ScanRow(&name, r.row-1); err != nil {
			return nil, err
		}
		if err := b.Columns[1].ScanRow(&typ, r.row-1); err != nil {
			return nil, err
		}
		types[name] = typ
	}
	block := proto.NewBlock()
	block.ServerContext.Timezone = c.s.tz
	for i, n := range names {
		n = strings.Trim(strings.TrimSpace(n), "`")
		typ, ok := types[n]
		if !ok {
			return nil, fmt.Errorf("chdb: %s has no column %q", table, n)
		}
		if err := block.AddColumn(n, chcolumn.Type(typ)); err != nil {
			return nil, fmt.Errorf("chdb: column %s %s: %w", n, typ, err)
		}
		names[i] = n
	}
	return &chdbBatch{ctx: ctx, c: c, table: table, columns: names, block: block}, nil
}

type chdbBatch struct {
	ctx     context.Context // PrepareBatch's, as the driver's batch keeps it for Send
	c       *chdbConn
	table   string
	columns []string
	block   *proto.Block
	done    bool
}

// Append is the driver's: Block.Append converts each value for its column, and refuses one
// the column cannot hold.
func (b *chdbBatch) Append(values ...any) error {
	if b.done {
		return errors.New("chdb: batch has been sent or aborted")
	}
	return b.block.Append(values...)
}

// AppendColumn is the driver's columnar append: the column converts the slice, and refuses
// one of another type.
func (b *chdbBatch) AppendColumn(i int, values any) error {
	if b.done {
		return errors.New("chdb: batch has been sent or aborted")
	}
	if i < 0 || i >= len(b.block.Columns) {
		return fmt.Errorf("chdb: no column %d in a block of %d", i, len(b.block.Columns))
	}
	_, err := b.block.Columns[i].Append(values)
	return err
}

func (b *chdbBatch) Abort() error {
	b.done = true
	return nil
}

// Send encodes the block as the driver does for a server and has the engine insert it.
func (b *chdbBatch) Send() error {
	if err := b.Flush(); err != nil {
		return err
	}
	b.done = true
	return nil
}

// Flush inserts the rows appended so far, as the driver's Flush sends them as one block, and
// empties the block for the next rows.
func (b *chdbBatch) Flush() error {
	if b.done {
		return errors.New("chdb: batch has been sent or aborted")
	}
	if err := b.c.check(b.ctx); err != nil {
		return err
	}
	file, err := b.c.s.writeBlock(b.block, "batch")
	if err != nil {
		return fmt.Errorf("chdb: the block for %s: %w", b.table, err)
	}
	defer os.Remove(file)
	_, err = b.c.s.exec("INSERT INTO " + b.table + " (" + strings.Join(b.columns, ", ") + ") FROM INFILE " + quoteString(file) + " FORMAT Native")
	b.block.Reset()
	return err
}
