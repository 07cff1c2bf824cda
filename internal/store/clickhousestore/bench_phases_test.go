package clickhousestore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store/storetest"
)

// timedConn is the store's conn with the time its batches spend in Flush (blocks sent before
// the last) and in Send (the last block and the server writing the part) added up.
type timedConn struct {
	conn
	flush, send *time.Duration
}

func (c timedConn) PrepareBatch(ctx context.Context, sql string) (batch, error) {
	b, err := c.conn.PrepareBatch(ctx, sql)
	if err != nil {
		return nil, err
	}
	return timedBatch{b, c.flush, c.send}, nil
}

type timedBatch struct {
	batch
	flush, send *time.Duration
}

func (b timedBatch) Flush() error {
	began := time.Now()
	defer func() { *b.flush += time.Since(began) }()
	return b.batch.Flush()
}

func (b timedBatch) Send() error {
	began := time.Now()
	defer func() { *b.send += time.Since(began) }()
	return b.batch.Send()
}

// BenchmarkInsert_Phases splits the wall time of an Insert of 10,000 loadgen-like records
// (chain off) into what comes before the final Send (encoding, appending, the earlier blocks)
// and the Send itself (the last block, and the server writing the part): the figures of the
// clickhousestore README's "Insert speed", fifth round.
//
//	eval "$(scripts/clickhouse/start.sh)"
//	go test -run '^$' -bench Insert_Phases -benchtime 8x ./internal/store/clickhousestore/ [-insert.finish-workers 2]
func BenchmarkInsert_Phases(b *testing.B) {
	s := openTestStore(b, func(c *Config) { c.Chain = false })
	s.finishWorkers = *benchFinishWorkers
	var flush, send time.Duration
	s.conn = timedConn{s.conn, &flush, &send}
	gen := storetest.NewLoadgenLike(10000, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		batch := gen.Batch(10000, "acme")
		b.StartTimer()
		began := time.Now()
		_, err := s.Insert(context.Background(), "", batch)
		total += time.Since(began)
		require.NoError(b, err)
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(per(total), "ms/insert")
	b.ReportMetric(per(total-send), "before-send-ms/insert")
	b.ReportMetric(per(send), "send-ms/insert")
	b.ReportMetric(per(flush), "flush-ms/insert")
}
