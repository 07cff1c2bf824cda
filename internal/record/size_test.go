package record

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func sizedRecords(n, attrs int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		a := make(map[string]any, attrs)
		for j := range attrs {
			a[fmt.Sprintf("app.field_%d", j)] = fmt.Sprintf("value %d of record %d, of some length", j, i)
		}
		a["nested"] = map[string]any{"n": int64(i), "list": []any{"x", 1.5}}
		recs[i] = Record{ID: fmt.Sprintf("0192-%d", i), Event: "user.login", Message: "user signed in", TenantID: "acme", Attributes: a}
	}
	return recs
}

func TestApproxBytes_GrowsWithContentAndTracksTheHeap(t *testing.T) {
	narrow, wide := ApproxBytes(sizedRecords(10, 2)), ApproxBytes(sizedRecords(10, 40))
	assert.Greater(t, wide, 3*narrow, "forty attributes must weigh far more than two")

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	recs := sizedRecords(2000, 30)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	est := float64(ApproxBytes(recs))
	runtime.KeepAlive(recs)
	assert.InDelta(t, 1, est/heap, 0.5, "estimate %0.f bytes for %0.f bytes of heap", est, heap)
}
