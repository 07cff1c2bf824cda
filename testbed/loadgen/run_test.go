package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/otelcol-audit/otelcol-audit/testbed/sink"
)

func startSink(t *testing.T) *sink.Sink {
	t.Helper()
	s, err := sink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRun_ARecordBoundedRunSendsExactlyThatManyRecords(t *testing.T) {
	s := startSink(t)
	res, err := Run(context.Background(), Config{Endpoint: s.URL() + "/v1/logs", Senders: 4, BatchSize: 30, Records: 1000, Pool: 4})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 = 33 batches of 30 and a tail of 10.
	if res.AckedRecords != 1000 || s.Records() != 1000 || res.Requests != 34 {
		t.Fatalf("acked %d, sink got %d in %d requests; want 1000 records in 34 requests (%s)", res.AckedRecords, s.Records(), res.Requests, res)
	}
	if res.RefusedRecords != 0 || res.FailedRecords != 0 || res.Status[200] != 34 {
		t.Fatalf("unexpected refusals or failures: %s", res)
	}
	if res.Latency.Count() != 34 || res.Latency.Quantile(0.5) <= 0 {
		t.Fatalf("latency histogram holds %d requests with p50 %s, want 34 and > 0", res.Latency.Count(), res.Latency.Quantile(0.5))
	}
}

func TestRun_AFixedRateIsHeldOverTheDuration(t *testing.T) {
	s := startSink(t)
	res, err := Run(context.Background(), Config{Endpoint: s.URL() + "/v1/logs", Senders: 2, BatchSize: 10, Rate: 1000, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// 100 request slots fall in one second; the first is due at once, so 100 or 101 are sent.
	if res.AckedRecords < 900 || res.AckedRecords > 1010 {
		t.Fatalf("acked %d records in %s at 1000/s, want about 1000", res.AckedRecords, res.Elapsed)
	}
	if s.Records() != res.AckedRecords {
		t.Fatalf("the sink counted %d records, the generator %d acknowledged", s.Records(), res.AckedRecords)
	}
}

func TestRun_RefusalsPartialSuccessAndDeadEndpointsAreCountedApart(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
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
			if err != nil {
				t.Fatal(err)
			}
			if res.AckedRecords != tt.acked || res.RefusedRecords != tt.refused || res.FailedRecords != tt.failed {
				t.Fatalf("acked/refused/failed = %d/%d/%d, want %d/%d/%d", res.AckedRecords, res.RefusedRecords, res.FailedRecords, tt.acked, tt.refused, tt.failed)
			}
			if res.Status[int(tt.status)] != 5 {
				t.Fatalf("status counts %v, want 5 answers of %d", res.Status, tt.status)
			}
			if !strings.Contains(res.LastError, tt.errPart) {
				t.Fatalf("last error %q does not mention %q", res.LastError, tt.errPart)
			}
		})
	}
}

func TestRun_AConfigThatWouldNeverEndIsRefused(t *testing.T) {
	if _, err := Run(context.Background(), Config{Endpoint: "http://127.0.0.1:1/v1/logs"}); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Fatalf("err = %v, want one naming duration", err)
	}
	if _, err := Run(context.Background(), Config{Records: 1}); err == nil || !strings.Contains(err.Error(), "endpoint") {
		t.Fatalf("err = %v, want one naming endpoint", err)
	}
}

func TestBody_EveryStampedSendOfAPoolRequestCarriesItsOwnObservedTimestamp(t *testing.T) {
	b, err := buildBody(NewBuilder(7), 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range []int64{0, 1, 128, 1 << 40} {
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(b.stamp(slot)); err != nil {
			t.Fatalf("slot %d: the stamped request does not decode: %v", slot, err)
		}
		lrs := req.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		if lrs.Len() != 50 {
			t.Fatalf("slot %d: %d records, want 50", slot, lrs.Len())
		}
		for i := 0; i < lrs.Len(); i++ {
			if got, want := uint64(lrs.At(i).ObservedTimestamp()), b.observed+uint64(slot); got != want {
				t.Fatalf("slot %d record %d: observed %d, want %d", slot, i, got, want)
			}
		}
	}
	// Stamping works on a copy: the pool's request stays as built.
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(b.data); err != nil {
		t.Fatal(err)
	}
	if got := uint64(req.Logs().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).ObservedTimestamp()); got != b.observed {
		t.Fatalf("the pool's request was changed: observed %d, want %d", got, b.observed)
	}
}
