package sqlitestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

func traceID(i int) string { return fmt.Sprintf("%032x", 0x9e3779b97f4a7c15*uint64(i+1)) }

// Every id added is held; ids never added are mostly not, at about the rate the filter is
// sized for; the stored form reads back the same filter, and a damaged one is refused.
func TestTraceFilter_HoldsEveryIDAddedAndFewOthers(t *testing.T) {
	const n = 50_000
	f := newTraceFilter(n)
	for i := range n {
		f.addHash(traceHash(traceID(i)))
	}
	for i := range n {
		require.True(t, f.mayHold(traceID(i)), "added id %d", i)
	}
	wrong := 0
	for i := n; i < 3*n; i++ {
		if f.mayHold(traceID(i)) {
			wrong++
		}
	}
	rate := float64(wrong) / (2 * n)
	assert.Less(t, rate, 0.015, "false positives")
	assert.Greater(t, rate, 0.0, "a filter this small cannot be exact; is it testing anything?")

	stored := f.bytes()
	back, err := parseTraceFilter(stored)
	require.NoError(t, err)
	assert.Equal(t, f, back)

	for _, at := range []int{0, 1, 3, 100, len(stored) - 1} {
		damaged := append([]byte(nil), stored...)
		damaged[at] ^= 0x10
		_, err := parseTraceFilter(damaged)
		assert.ErrorIs(t, err, errTraceFilterDamaged, "byte %d flipped", at)
	}
	_, err = parseTraceFilter(stored[:9])
	assert.ErrorIs(t, err, errTraceFilterDamaged, "truncated")
}

// oneTracePerRecord is n records of their own trace each, one second apart.
func oneTracePerRecord(prefix string, first, n int, base time.Time) []record.Record {
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{ID: fmt.Sprintf("%s-%05d", prefix, first+i), TenantID: "acme", Level: record.LevelInfo,
			Timestamp: base.Add(time.Duration(first+i) * time.Second), TraceID: traceID(first + i), Message: "m"}
	}
	return recs
}

// waitTraceFilters waits for the filters being loaded or built in the background.
func waitTraceFilters(p *Partitioned) { p.background.Wait() }

// A trace lookup asks only the partitions whose filter may hold the trace. Every sealed
// partition but one has its reads closed, so asking any of them fails: the lookup of a trace
// of the open one must still succeed, and find it.
func TestPartitioned_ATraceLookupSkipsThePartitionsWhoseFilterRulesItOut(t *testing.T) {
	ctx := context.Background()
	p := openPartitioned(t, t.TempDir(), 100)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for first := 0; first < 1000; first += 100 {
		mustInsertP(t, p, "acme", oneTracePerRecord("r", first, 100, base))
	}
	mustInsertP(t, p, "acme", oneTracePerRecord("r", 1000, 1, base)) // rolls the tenth partition over
	waitTraceFilters(p)

	parts, release, err := p.snapshot(ctx)
	require.NoError(t, err)
	require.Len(t, parts, 12, "the base file, ten full partitions and the active one")
	for _, v := range parts[:len(parts)-1] {
		require.NotNil(t, v.traces.Load(), "partition %d has no trace filter", v.num)
	}
	// Partition 4 holds records 300-399; every other sealed one is made unreadable.
	for _, v := range parts[:len(parts)-1] {
		if v.num != 4 {
			require.NoError(t, v.st.read.Close())
		}
	}
	release()

	got, err := p.Trace(ctx, "", traceID(345))
	require.NoError(t, err, "a partition whose filter rules the trace out was asked")
	require.Len(t, got, 1)
	assert.Equal(t, "r-00345", got[0].ID)
	got, err = p.Trace(ctx, "acme", traceID(1000))
	require.NoError(t, err)
	assert.Equal(t, []string{"r-01000"}, ids(got), "the active partition is always asked")

	_, err = p.Trace(ctx, "", traceID(5))
	assert.Error(t, err, "the lookup of a trace held by a closed partition must ask it (and fail)")
}

// The filter is kept in the partition's file: a restart reads it rather than walking the trace
// index again, and one that is missing or damaged is built again and stored.
func TestPartitioned_TraceFiltersAreStoredInTheirFileAndRebuiltWhenDamaged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := partitionedConfig(dir, 50)
	p, err := OpenPartitioned(ctx, cfg)
	require.NoError(t, err)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for first := 0; first < 200; first += 50 {
		mustInsertP(t, p, "acme", oneTracePerRecord("r", first, 50, base))
	}
	waitTraceFilters(p)
	parts, release, err := p.snapshot(ctx)
	require.NoError(t, err)
	sealed := parts[1 : len(parts)-1]
	require.Len(t, sealed, 3)
	stored, err := loadTraceFilter(ctx, sealed[1].st)
	require.NoError(t, err)
	require.NotNil(t, stored, "partition %d's filter is not in its file", sealed[1].num)
	assert.Equal(t, sealed[1].traces.Load(), stored)
	// Damage partition 1's filter and remove partition 2's.
	_, err = sealed[0].st.write.Exec(`UPDATE trace_filter SET filter = x'0102030405060708090a0b0c'`)
	require.NoError(t, err)
	_, err = sealed[1].st.write.Exec(`DELETE FROM trace_filter`)
	require.NoError(t, err)
	release()
	require.NoError(t, p.Close())

	p = openPartitioned(t, dir, 50)
	waitTraceFilters(p)
	parts, release, err = p.snapshot(ctx)
	require.NoError(t, err)
	defer release()
	for _, v := range parts[1 : len(parts)-1] {
		f, err := loadTraceFilter(ctx, v.st)
		require.NoError(t, err, "partition %d", v.num)
		require.NotNil(t, f, "partition %d", v.num)
		assert.Equal(t, v.traces.Load(), f, "partition %d", v.num)
		for i := (v.num - 1) * 50; i < v.num*50; i++ {
			require.True(t, f.mayHold(traceID(i)), "partition %d, trace %d", v.num, i)
		}
	}
	for i := range 200 {
		got, err := p.Trace(ctx, "acme", traceID(i))
		require.NoError(t, err)
		require.Equal(t, []string{fmt.Sprintf("r-%05d", i)}, ids(got))
	}
}

// A read-only follower reads the filters its writer stored, when a lookup first needs them.
func TestReadOnly_UsesTheTraceFiltersItsWriterStored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openPartitioned(t, dir, 50)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for first := 0; first < 150; first += 50 {
		mustInsertP(t, w, "acme", oneTracePerRecord("r", first, 50, base))
	}
	waitTraceFilters(w)
	r := openFollower(t, dir).(*Partitioned)
	got, err := r.Trace(ctx, "", traceID(10))
	require.NoError(t, err)
	assert.Equal(t, []string{"r-00010"}, ids(got))

	parts, release, err := r.snapshot(ctx)
	require.NoError(t, err)
	defer release()
	for _, v := range parts[1 : len(parts)-1] {
		assert.NotNil(t, v.traces.Load(), "partition %d", v.num)
	}
	assert.Nil(t, parts[len(parts)-1].traces.Load(), "the newest partition may still take inserts")
}
