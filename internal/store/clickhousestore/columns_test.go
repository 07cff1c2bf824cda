package clickhousestore

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// columnsBatch records what a columnar insert hands the driver.
type columnsBatch struct {
	batch
	cols map[int]any
}

func (b *columnsBatch) AppendColumn(i int, values any) error {
	if _, dup := b.cols[i]; dup {
		return fmt.Errorf("column %d appended twice", i)
	}
	// A copy, as the driver copies into its buffers: the block reuses its slices.
	v := reflect.ValueOf(values)
	b.cols[i] = reflect.AppendSlice(reflect.MakeSlice(v.Type(), 0, v.Len()), v).Interface()
	return nil
}

// Insert sends rows column by column (emitRow into a columnBlock); the VALUES literals and the
// tests send them row by row (encodeRecord). For every layout both must carry the same values
// in insertColumns order, one column each, or a layout's table would get its columns shifted.
func TestColumnBlock_HoldsTheRowsEncodeRecordMakesInEveryLayout(t *testing.T) {
	gen := storetest.NewLoadgenLike(3, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	recs := gen.Batch(50, "acme")
	recs[7].Tags = nil // sent as an empty array, not NULL
	for _, d := range []dialect{
		{mode: modeLegacy, db: "db", table: "t"},
		{mode: modeModern, rev: modernRev1, db: "db", table: "t"},
		{mode: modeModern, rev: modernRev2, db: "db", table: "t"},
	} {
		t.Run(fmt.Sprintf("mode=%v/rev=%d", d.mode, d.modernRev()), func(t *testing.T) {
			columns := d.insertColumns()
			var blk columnBlock
			rows := make([][]any, len(recs))
			for i := range recs {
				e := encodedRecord{tenant: "acme"}
				require.NoError(t, d.encode(&recs[i], &e))
				d.emitRow(&blk, &recs[i], &e, 42)
				blk.endRow()
				row, ts, err := d.encodeRecord(&recs[i], "acme", 42)
				require.NoError(t, err)
				require.Equal(t, e.ts, ts)
				require.Len(t, row, len(columns), "encodeRecord's row has one value a column")
				rows[i] = row
			}
			got := &columnsBatch{cols: map[int]any{}}
			require.NoError(t, blk.appendTo(got, columns))
			require.Len(t, got.cols, len(columns))
			for j, name := range columns {
				for i := range recs {
					require.Equal(t, rows[i][j], columnValue(t, got.cols[j], i), "record %d column %s", i, name)
				}
			}
			require.Zero(t, blk.rows, "appendTo empties the block for the next")
		})
	}
}

// columnValue is values[i] of a typed column slice.
func columnValue(t *testing.T, values any, i int) any {
	t.Helper()
	v := reflect.ValueOf(values)
	require.Equal(t, reflect.Slice, v.Kind(), "a column is a slice, not %T", values)
	return v.Index(i).Interface()
}
