package auditreceiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-audit/otelcol-audit/receiver/auditreceiver/internal/metadata"
)

// benchRounds is how many times each side of a comparison runs within one benchmark call. The
// two sides alternate (audit, otlp, otlp, audit, ...) so that load from other processes on the
// shared machine, and the warm-up of either side, fall on both about equally.
const benchRounds = 4

// countingSink is the next consumer of both receivers. It counts records instead of keeping
// them (consumertest.LogsSink would hold millions of records in memory by the end of a run)
// and answers at once, so the figures are the receivers' own cost.
type countingSink struct{ records atomic.Int64 }

func (s *countingSink) consumer(b *testing.B) consumer.Logs {
	c, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		s.records.Add(int64(ld.LogRecordCount()))
		return nil
	})
	require.NoError(b, err)
	return c
}

// benchTarget is one receiver endpoint and the body every request sends to it.
type benchTarget struct {
	url         string
	contentType string
	body        []byte
	// status is the answer of an accepted request: 202 for the audit receiver, 200 for OTLP.
	status int
	client *http.Client
	sink   *countingSink
}

// send posts the body n times from clients concurrent workers and returns how long it took.
// Every request must be accepted and every record must reach the sink.
func (t benchTarget) send(n, clients, eventsPerRequest int) (time.Duration, error) {
	before := t.sink.records.Load()
	var (
		next     atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
	)
	started := time.Now()
	for range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := t.post(); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)
	if err := firstErr.Load(); err != nil {
		return 0, *err
	}
	if got, want := t.sink.records.Load()-before, int64(n*eventsPerRequest); got != want {
		return 0, fmt.Errorf("%s: %d records reached the sink, want %d", t.url, got, want)
	}
	return elapsed, nil
}

func (t benchTarget) post() error {
	req, err := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", t.contentType)
	res, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", t.url, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("read answer of %s: %w", t.url, err)
	}
	if res.StatusCode != t.status {
		return fmt.Errorf("post to %s: status %d, want %d: %s", t.url, res.StatusCode, t.status, answer)
	}
	return nil
}

// benchClient keeps one connection per worker alive, as an SDK exporter or a service's HTTP
// client would.
func benchClient(clients int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		DisableCompression:  true,
	}}
}

// benchEvents returns n realistic audit events, one JSON object per line.
func benchEvents(n int) []byte {
	var body bytes.Buffer
	for i := range n {
		fmt.Fprintf(&body, `{"action":"course.updated","level":"info","occurred_at":%d,"tenant_id":"acme","user_id":"u-%d",`+
			`"entity_type":"course","entity_id":"c-%d","old_values":{"title":"Go 101","seats":30},"new_values":{"title":"Go 102","seats":31},`+
			`"metadata":{"request_id":"r-%d"},"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}`+"\n",
			1714972089123+i, i%50, i, i)
	}
	return body.Bytes()
}

// otlpBody encodes the records the audit receiver makes of body as an OTLP/HTTP protobuf
// request, so both receivers are handed the same records.
func otlpBody(b *testing.B, body []byte, f bodyFormat) []byte {
	d, rerr := decodeRequest(body, f, decodeOptions{maxEvents: defaultMaxEventsPerRequest})
	require.Nil(b, rerr, "the benchmark's events are invalid: %v %v", rerr, d.problems)
	require.Empty(b, d.problems, "the benchmark's events are invalid: %v %v", rerr, d.problems)
	ld, _ := buildLogs(d.events, clientContext{address: "127.0.0.1", userAgent: "Go-http-client/1.1"}, time.Now())
	raw, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(b, err)
	return raw
}

// startAuditReceiver runs the real receiver on 127.0.0.1:0 and returns its events URL.
func startAuditReceiver(b *testing.B, next consumer.Logs) string {
	cfg := createDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = "127.0.0.1:0"
	r, err := newAuditReceiver(cfg, receivertest.NewNopSettings(metadata.Type), next)
	require.NoError(b, err)
	require.NoError(b, r.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return "http://" + r.addr.String() + eventsPath
}

// startOTLPReceiver runs the collector's own otlpreceiver (HTTP only) on a free loopback port
// and returns its logs URL. The receiver does not expose the address it bound, so the port is
// taken from a listener closed just before; nothing else on the machine binds ports at random.
func startOTLPReceiver(b *testing.B, next consumer.Logs) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	endpoint := ln.Addr().String()
	_ = ln.Close()

	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = endpoint
	r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(b, err)
	require.NoError(b, r.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return "http://" + endpoint + "/v1/logs"
}

// BenchmarkReceiverVsOTLPHTTP measures events/s through the real audit receiver (HTTP server on
// 127.0.0.1, a sink that counts) for one JSON event per request and for 1000 NDJSON events per
// request, each beside the same records sent as OTLP/HTTP protobuf to the collector's
// otlpreceiver (one record per request, or 1000), with 1 and 8 concurrent clients. One
// iteration is one request to each receiver. Reported: audit-events/s, otlp-events/s and
// audit/otlp (their ratio, measured in the same run). Run with
//
//	go test -run '^$' -bench BenchmarkReceiverVsOTLPHTTP -benchtime 3s ./receiver/auditreceiver/
func BenchmarkReceiverVsOTLPHTTP(b *testing.B) {
	if testing.Short() {
		b.Skip("the receiver comparison starts two servers; not in -short")
	}
	auditSink, otlpSink := new(countingSink), new(countingSink)
	auditURL := startAuditReceiver(b, auditSink.consumer(b))
	otlpURL := startOTLPReceiver(b, otlpSink.consumer(b))

	cases := []struct {
		name        string
		events      int
		format      bodyFormat
		contentType string
	}{
		{"json-single", 1, formatJSON, "application/json"},
		{"ndjson-1000", 1000, formatNDJSON, "application/x-ndjson"},
	}
	for _, c := range cases {
		body := benchEvents(c.events)
		if c.format == formatJSON {
			body = bytes.TrimSpace(body)
		}
		protobuf := otlpBody(b, body, c.format)
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/clients=%d", c.name, clients), func(b *testing.B) {
				audit := benchTarget{url: auditURL, contentType: c.contentType, body: body, status: http.StatusAccepted,
					client: benchClient(clients), sink: auditSink}
				otlp := benchTarget{url: otlpURL, contentType: "application/x-protobuf", body: protobuf, status: http.StatusOK,
					client: benchClient(clients), sink: otlpSink}
				b.Cleanup(audit.client.CloseIdleConnections)
				b.Cleanup(otlp.client.CloseIdleConnections)

				var auditTime, otlpTime time.Duration
				rounds := min(benchRounds, b.N)
				b.ResetTimer()
				for r := range rounds {
					n := b.N / rounds
					if r == rounds-1 {
						n = b.N - n*(rounds-1)
					}
					sides := []struct {
						t     benchTarget
						total *time.Duration
					}{{audit, &auditTime}, {otlp, &otlpTime}}
					if r%2 == 1 {
						sides[0], sides[1] = sides[1], sides[0]
					}
					for _, s := range sides {
						// send times itself, so require's bookkeeping stays out of the figures.
						d, err := s.t.send(n, clients, c.events)
						require.NoError(b, err)
						*s.total += d
					}
				}
				b.StopTimer()
				events := float64(b.N * c.events)
				auditRate, otlpRate := events/auditTime.Seconds(), events/otlpTime.Seconds()
				b.ReportMetric(auditRate, "audit-events/s")
				b.ReportMetric(otlpRate, "otlp-events/s")
				b.ReportMetric(auditRate/otlpRate, "audit/otlp")
				// An iteration is a request to each receiver, so ns/op would mix the two.
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
