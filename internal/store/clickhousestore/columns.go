package clickhousestore

import (
	"fmt"
	"time"
)

// A row's values reach the driver column by column. dialect.emitRow names each value once, in
// insertColumns order, to a rowSink: columnBlock keeps them in typed slices, one per column,
// which go to the native batch as whole columns (no value is boxed in an interface, and the
// driver converts a slice per column, not a value per cell: the row-wise Append was a tenth
// of Insert's CPU with the garbage it left, see README "Insert speed"); anyRow keeps them as
// one []any, for the VALUES literals and the tests that write a row past the store.
type rowSink interface {
	time(time.Time)
	i64(int64)
	i32(int32)
	u8(uint8)
	u64(uint64)
	f64(float64)
	str(string)
	strs([]string)
	strMap(map[string]string)
}

// anyRow is a row as the driver's row-wise Append takes it.
type anyRow []any

func (r *anyRow) time(v time.Time)           { *r = append(*r, v) }
func (r *anyRow) i64(v int64)                { *r = append(*r, v) }
func (r *anyRow) i32(v int32)                { *r = append(*r, v) }
func (r *anyRow) u8(v uint8)                 { *r = append(*r, v) }
func (r *anyRow) u64(v uint64)               { *r = append(*r, v) }
func (r *anyRow) f64(v float64)              { *r = append(*r, v) }
func (r *anyRow) str(v string)               { *r = append(*r, v) }
func (r *anyRow) strs(v []string)            { *r = append(*r, v) }
func (r *anyRow) strMap(v map[string]string) { *r = append(*r, v) }

// columnBlock is the rows of one native block, column by column. Its slices are reused from
// block to block of an INSERT.
type columnBlock struct {
	cols []columnValues
	next int // the column the row's next value goes to
	rows int
}

// columnValues is one column's values, a []T of the type the driver's column takes.
type columnValues interface {
	values() any
	reset()
}

type typedColumn[T any] struct{ v []T }

func (c *typedColumn[T]) values() any { return c.v }

func (c *typedColumn[T]) reset() {
	clear(c.v) // the strings and maps of the block just sent are not kept alive
	c.v = c.v[:0]
}

// put appends v to the row's next column, made by the first row; every row names the same
// types in the same order (emitRow), so a mismatch is a bug in emitRow, not in a record.
func put[T any](b *columnBlock, v T) {
	if b.next == len(b.cols) {
		b.cols = append(b.cols, &typedColumn[T]{})
	}
	c := b.cols[b.next].(*typedColumn[T])
	c.v = append(c.v, v)
	b.next++
}

func (b *columnBlock) time(v time.Time)           { put(b, v) }
func (b *columnBlock) i64(v int64)                { put(b, v) }
func (b *columnBlock) i32(v int32)                { put(b, v) }
func (b *columnBlock) u8(v uint8)                 { put(b, v) }
func (b *columnBlock) u64(v uint64)               { put(b, v) }
func (b *columnBlock) f64(v float64)              { put(b, v) }
func (b *columnBlock) str(v string)               { put(b, v) }
func (b *columnBlock) strs(v []string)            { put(b, v) }
func (b *columnBlock) strMap(v map[string]string) { put(b, v) }

// endRow closes the row emitRow just wrote.
func (b *columnBlock) endRow() {
	if b.rows > 0 && b.next != len(b.cols) {
		panic(fmt.Sprintf("clickhousestore: a row of %d values in a block of %d columns", b.next, len(b.cols)))
	}
	b.next = 0
	b.rows++
}

// appendTo appends the block's rows to batch, column by column, and empties the block.
// columns names the columns, for the error.
func (b *columnBlock) appendTo(batch batch, columns []string) error {
	defer b.reset()
	if b.rows == 0 {
		return nil
	}
	if len(b.cols) != len(columns) {
		return fmt.Errorf("clickhousestore: a block of %d columns for an insert of %d", len(b.cols), len(columns))
	}
	for i, c := range b.cols {
		if err := batch.AppendColumn(i, c.values()); err != nil {
			return fmt.Errorf("clickhousestore: insert: column %s: %w", columns[i], err)
		}
	}
	return nil
}

func (b *columnBlock) reset() {
	for _, c := range b.cols {
		c.reset()
	}
	b.next, b.rows = 0, 0
}
