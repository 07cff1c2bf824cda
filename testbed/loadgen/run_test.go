package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/testbed/sink"
)

func startSink(t *testing.T) *sink.Sink {
	t.Helper()
	s, err := sink.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRun_ARecordBoundedRunSendsExactlyThatManyRecords(t *testing.T) {
	s := startSink(t)
	res, err := Run(context.Background(), Config{Endpoint: s.URL() + "/v1/logs", Senders: 4, BatchSize: 30, Records: 1000, Pool: 4})
	require.NoError(t, err)
	// 1000 = 33 batches of 30 and a tail of 10.
	require.EqualValues(t, 1000, res.AckedRecords, "acked records; want 1000 records in 34 requests (%s)", res)
	require.EqualValues(t, 1000, s.Records(), "records the sink got; want 1000 records in 34 requests (%s)", res)
	require.EqualValues(t, 34, res.Requests, "requests; want 1000 records in 34 requests (%s)", res)
	require.Zero(t, res.RefusedRecords, "unexpected refusals: %s", res)
	require.Zero(t, res.FailedRecords, "unexpected failures: %s", res)
	require.EqualValues(t, 34, res.Status[200], "unexpected refusals or failures: %s", res)
	require.EqualValues(t, 34, res.Latency.Count(), "requests the latency histogram holds")
	require.Positive(t, res.Latency.Quantile(0.5), "latency p50, want > 0")
}

func TestRun_TheLiveAckedCounterGrowsDuringTheRunAndEndsAtTheResult(t *testing.T) {
	s := startSink(t)
	var acked atomic.Int64
	type ran struct {
		res Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := Run(context.Background(), Config{Endpoint: s.URL() + "/v1/logs", Senders: 2, BatchSize: 10, Rate: 200, Duration: 2 * time.Second, Acked: &acked})
		done <- ran{res, err}
	}()
	time.Sleep(time.Second)
	// Sampled mid-run: some requests answered, not all of them.
	mid := acked.Load()
	r := <-done
	require.NoError(t, r.err)
	res := r.res
	require.Positive(t, mid, "the counter after 1 s of a 2 s run at 200/s")
	require.Less(t, mid, res.AckedRecords, "the counter after 1 s vs the run's total (%s)", res)
	require.Equal(t, res.AckedRecords, acked.Load(), "the counter at the end vs the result (%s)", res)
}

func TestRun_AFixedRateIsHeldOverTheDuration(t *testing.T) {
	s := startSink(t)
	res, err := Run(context.Background(), Config{Endpoint: s.URL() + "/v1/logs", Senders: 2, BatchSize: 10, Rate: 1000, Duration: time.Second})
	require.NoError(t, err)
	// 100 request slots fall in one second; the first is due at once, so 100 or 101 are sent.
	require.GreaterOrEqual(t, res.AckedRecords, int64(900), "acked %d records in %s at 1000/s, want about 1000", res.AckedRecords, res.Elapsed)
	require.LessOrEqual(t, res.AckedRecords, int64(1010), "acked %d records in %s at 1000/s, want about 1000", res.AckedRecords, res.Elapsed)
	require.Equal(t, res.AckedRecords, s.Records(), "the sink counted vs the generator acknowledged")
}

func TestRun_RefusalsPartialSuccessAndDeadEndpointsAreCountedApart(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "queue full", http.StatusServiceUnavailable)
	}))
	defer refuse.Close()
	partial := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		resp := plogotlp.NewExportResponse()
		resp.PartialSuccess().SetRejectedLogRecords(3)
		data, _ := resp.MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(data)
	}))
	defer partial.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	tests := []struct {
		name                           string
		url                            string
		acked, refused, failed, status int64
		errPart                        string
	}{
		{"a 503 answer refuses every record of the request", refuse.URL, 0, 50, 0, 503, "503"},
		{"a partial success acknowledges only the records it did not reject", partial.URL, 35, 15, 0, 200, ""},
		{"an endpoint that does not answer fails every record", deadURL, 0, 0, 50, 0, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Config{Endpoint: tt.url + "/v1/logs", Senders: 1, BatchSize: 10, Records: 50, Timeout: 2 * time.Second})
			require.NoError(t, err)
			require.Equal(t, []int64{tt.acked, tt.refused, tt.failed}, []int64{res.AckedRecords, res.RefusedRecords, res.FailedRecords}, "acked/refused/failed")
			require.EqualValues(t, 5, res.Status[int(tt.status)], "status counts %v, want 5 answers of %d", res.Status, tt.status)
			require.Contains(t, res.LastError, tt.errPart, "last error does not mention %q", tt.errPart)
		})
	}
}

// A throttled sender waits the Retry-After it was given before its next request, as
// OpenTelemetry SDKs do, instead of asking again at once.
func TestRun_AThrottledSenderWaitsTheRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		first := len(arrivals) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Endpoint: srv.URL + "/v1/logs", Senders: 1, BatchSize: 10, Records: 20, Timeout: 5 * time.Second})
	require.NoError(t, err)
	require.Equal(t, []int64{10, 10}, []int64{res.AckedRecords, res.RefusedRecords}, "acked/refused")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, arrivals, 2)
	require.GreaterOrEqual(t, arrivals[1].Sub(arrivals[0]), time.Second, "the request after a Retry-After of 1 s")
}

func TestRun_AConfigThatWouldNeverEndIsRefused(t *testing.T) {
	_, err := Run(context.Background(), Config{Endpoint: "http://127.0.0.1:1/v1/logs"})
	require.ErrorContains(t, err, "duration", "want an error naming duration")
	_, err = Run(context.Background(), Config{Records: 1})
	require.ErrorContains(t, err, "endpoint", "want an error naming endpoint")
}

func TestBody_EveryStampedSendCarriesItsOwnObservedTimestampAndTimestampsMovedByThePoolsAge(t *testing.T) {
	b, err := buildBody(NewBuilder(7), 2000) // enough for neighbours with the same timestamp
	require.NoError(t, err)
	asBuilt := plogotlp.NewExportRequest()
	require.NoError(t, asBuilt.UnmarshalProto(b.data))
	builtRecs := asBuilt.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for _, slot := range []int64{0, 1, 128, 1 << 40} {
		age := time.Duration(slot) * time.Millisecond
		req := plogotlp.NewExportRequest()
		require.NoErrorf(t, req.UnmarshalProto(b.stamp(slot, age)), "slot %d: the stamped request does not decode", slot)
		lrs := req.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		require.Equal(t, 2000, lrs.Len(), "slot %d: records", slot)
		for i := 0; i < lrs.Len(); i++ {
			require.Equal(t, b.observed+uint64(slot), uint64(lrs.At(i).ObservedTimestamp()), "slot %d record %d: observed", slot, i)
			require.Equal(t, builtRecs.At(i).Timestamp()+pcommon.Timestamp(age), lrs.At(i).Timestamp(), "slot %d record %d: the timestamp is not moved by the age of the pool", slot, i)
		}
	}
	// Stamping works on a copy: the pool's request stays as built.
	req := plogotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(b.data))
	require.Equal(t, b.observed, uint64(req.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).ObservedTimestamp()), "the pool's request was changed: observed")
	require.Equal(t, builtRecs.At(0).Timestamp(), req.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Timestamp(), "the pool's request was changed: timestamp")
}
