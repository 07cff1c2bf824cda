package record

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// loadShapedRequest is one request shaped like the load generator's: a resource of three
// attributes, and records whose eleven audit attributes become columns, plus 1 to 39 others.
func loadShapedRequest(rng *rand.Rand, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr("service.name", "billing")
	res.PutStr("service.version", "2.14.1")
	res.PutStr("host.name", "web-3")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for range n {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr("invoice paid")
		a := lr.Attributes()
		a.PutStr(AttrTenantID, fmt.Sprintf("tenant-%d", rng.IntN(3)))
		a.PutStr(AttrUserID, fmt.Sprintf("user-%03d", rng.IntN(500)))
		a.PutStr(AttrUserName, "name of a user")
		a.PutStr(AttrClientAddr, "10.1.2.3")
		a.PutStr(AttrUserAgent, "Mozilla/5.0")
		a.PutStr(AttrMethod, "POST")
		a.PutStr(AttrPath, "/api/invoices")
		a.PutInt(AttrStatusCode, 200)
		a.PutDouble(AttrDurationMS, 12.5)
		a.PutStr(AttrEntityType, "invoice")
		a.PutStr(AttrEntityID, fmt.Sprintf("inv-%d", rng.IntN(1000)))
		for k, extra := 0, 1+rng.IntN(39); k < extra; k++ {
			a.PutStr(fmt.Sprintf("app.field_%02d", k), fmt.Sprintf("value %d", rng.IntN(1000)))
		}
	}
	return ld
}

// Mapped records wait in the exporter's memory queue, so their size is the queue's real
// cost. The bound was measured: 3,086 bytes per record when every record had a copy of its
// resource and an attribute map sized for all of its attributes (the columns' too), 2,163
// since.
func TestFromLogs_MappedRecordsAreSmall(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const requests, perRequest = 50, 100
	var lds []plog.Logs
	for range requests {
		lds = append(lds, loadShapedRequest(rng, perRequest))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	mapped := make([][]Record, 0, requests)
	for _, ld := range lds {
		mapped = append(mapped, DefaultMapping().FromLogs(ld, "", fixedNow))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perRecord := int(after.HeapAlloc-before.HeapAlloc) / (requests * perRequest)
	t.Logf("%d bytes of heap per mapped record (the request's own strings are shared, not counted)", perRecord)
	assert.Less(t, perRecord, 2600, "bytes of heap per mapped record")

	// The records of one resource share its map; every attribute that is not a column is kept.
	recs := mapped[0]
	require.Len(t, recs, perRequest)
	assert.Equal(t, map[string]any{"service.name": "billing", "service.version": "2.14.1", "host.name": "web-3"}, recs[0].Resource)
	for i := range recs {
		assert.Equal(t, reflect.ValueOf(recs[0].Resource).UnsafePointer(), reflect.ValueOf(recs[i].Resource).UnsafePointer(), "record %d", i)
		lr := lds[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(i)
		assert.Len(t, recs[i].Attributes, lr.Attributes().Len()-11, "record %d", i)
	}
	runtime.KeepAlive(lds)
}
