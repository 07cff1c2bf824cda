package wal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkAppend measures group commit on a real directory: entries/s and fsyncs per
// entry for 1, 8 and 64 concurrent appenders of 1 KiB payloads, in both sync modes.
//
//	go test -run '^$' -bench BenchmarkAppend -benchtime 3s ./internal/wal/
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []SyncMode{SyncAlways, SyncInterval} {
		for _, appenders := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("sync=%s/appenders=%d", mode, appenders), func(b *testing.B) {
				w, _, _ := openReplayed(b, b.TempDir(), manualMarks(Options{Sync: mode}))
				payload := payloadFor(0, 1024)
				var claimed atomic.Int64
				var wg sync.WaitGroup
				b.SetBytes(int64(len(payload)))
				b.ResetTimer()
				start := time.Now()
				for range appenders {
					wg.Go(func() {
						for claimed.Add(1) <= int64(b.N) {
							if _, err := w.Append(context.Background(), payload); !assert.NoError(b, err) {
								return
							}
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
				b.ReportMetric(float64(w.fsyncs.Load())/float64(b.N), "fsyncs/entry")
				require.NoError(b, w.Close())
			})
		}
	}
}
