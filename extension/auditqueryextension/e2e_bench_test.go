package auditqueryextension_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-audit/otelcol-audit/exporter/auditexporter"
	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension"
)

const (
	e2eSubscribers = 10 // half WebSocket, half SSE
	e2eBatch       = 100
	e2eInterval    = 50 * time.Millisecond // 100 records per 50 ms: 2,000 records/s
	e2eDrain       = 30 * time.Second
)

// extensionsHost is a host that knows the query extension, as the collector's would.
type extensionsHost map[component.ID]component.Component

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h }

// freeLoopback returns a loopback address free a moment ago, for components that bind their
// configured endpoint and do not report the port they got for :0.
func freeLoopback(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(b *testing.B, c component.Component, host component.Host) {
	if err := c.Start(context.Background(), host); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Shutdown(context.Background()) })
}

// e2eRequest is request n: records whose audit.id names the request, so a subscriber knows
// which acknowledgement each record belongs to.
func e2eRequest(b *testing.B, n int) []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "documents")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("server")
	now := pcommon.NewTimestampFromTime(time.Now())
	for i := range e2eBatch {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(now)
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetEventName("document.share")
		lr.Body().SetStr("Document shared with an external recipient by link")
		a := lr.Attributes()
		a.PutStr("audit.id", fmt.Sprintf("%07d-%03d", n, i))
		a.PutStr("tenant.id", "tenant-0")
		a.PutStr("user.id", fmt.Sprintf("user-%03d", i%50))
		a.PutStr("client.address", "198.51.100.7")
		a.PutStr("http.request.method", "POST")
		a.PutStr("url.path", "/api/v1/documents/share")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("audit.entity_type", "document")
		a.PutStr("audit.entity_id", fmt.Sprintf("doc-%d", i))
	}
	raw, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkLiveTailEndToEnd measures how long after the sender's OTLP acknowledgement a record
// reaches live viewers: OTLP/HTTP -> the collector's otlpreceiver -> the real auditexporter
// (durable mode: WAL fsync before the acknowledgement, then queue, batch, SQLite commit,
// Publish) -> the auditquery extension's stream -> 10 clients on 127.0.0.1 (5 WebSocket, 5
// SSE), at 2,000 records/s in requests of 100 every 50 ms. One iteration is one request, so
// -benchtime 100x runs for 5 s. Reported: ack-to-live-p50-ms and -p99-ms (negative when a
// record was live before its sender had read the acknowledgement), send-to-live-p50-ms and
// -p99-ms, ack-p99-ms (send to acknowledgement), delivered/s and lost. Run with
//
//	go test -run '^$' -bench BenchmarkLiveTailEndToEnd -benchtime 100x ./extension/auditqueryextension/
func BenchmarkLiveTailEndToEnd(b *testing.B) {
	if testing.Short() {
		b.Skip("the end-to-end live tail benchmark runs a pipeline for seconds; not in -short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	storeID := component.MustNewID("auditstore")
	dataDir := b.TempDir()
	scfg := sharedstore.DefaultConfig()
	scfg.SQLite.Path = filepath.Join(dataDir, "audit.db")
	shared := sharedstore.New(scfg, zap.NewNop())
	start(b, shared, componenttest.NewNopHost())
	host := extensionsHost{storeID: shared}

	qf := auditqueryextension.NewFactory()
	qcfg := qf.CreateDefaultConfig().(*auditqueryextension.Config)
	qcfg.NetAddr.Endpoint = freeLoopback(b)
	qcfg.RateLimit.Requests = 0
	qcfg.Stream.MaxPerUser = e2eSubscribers
	ext, err := qf.Create(ctx, extensiontest.NewNopSettings(qf.Type()), qcfg)
	if err != nil {
		b.Fatal(err)
	}
	start(b, ext, host)

	ef := auditexporter.NewFactory()
	ecfg := ef.CreateDefaultConfig().(*auditexporter.Config)
	ecfg.DataDir = dataDir
	exp, err := ef.CreateLogs(ctx, exportertest.NewNopSettings(ef.Type()), ecfg)
	if err != nil {
		b.Fatal(err)
	}
	start(b, exp, host)

	rf := otlpreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*otlpreceiver.Config)
	otlpEndpoint := freeLoopback(b)
	rcfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = otlpEndpoint
	recv, err := rf.CreateLogs(ctx, receivertest.NewNopSettings(rf.Type()), rcfg, exp)
	if err != nil {
		b.Fatal(err)
	}
	start(b, recv, componenttest.NewNopHost())

	sentAt := make([]atomic.Int64, b.N)
	ackedAt := make([]atomic.Int64, b.N)
	type delivery struct {
		request int
		at      int64
	}
	var (
		mu         sync.Mutex
		deliveries []delivery
	)
	streams := auditqueryextension.DialBenchStreams(b, ctx, "http://"+qcfg.NetAddr.Endpoint, e2eSubscribers, func(id string) (int64, error) {
		now := time.Now().UnixNano()
		n, _, _ := strings.Cut(id, "-")
		req, err := strconv.Atoi(n)
		if err != nil || req < 0 || req >= len(sentAt) {
			return 0, fmt.Errorf("record id %q is not one of the benchmark's", id)
		}
		mu.Lock()
		deliveries = append(deliveries, delivery{req, now})
		mu.Unlock()
		return sentAt[req].Load(), nil
	})

	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = e2eRequest(b, i)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	ackLat := make([]time.Duration, 0, b.N)
	ticker := time.NewTicker(e2eInterval)
	defer ticker.Stop()
	b.ResetTimer()
	started := time.Now()
	for i := range b.N {
		if i > 0 {
			<-ticker.C
		}
		t0 := time.Now()
		sentAt[i].Store(t0.UnixNano())
		res, err := client.Post("http://"+otlpEndpoint+"/v1/logs", "application/x-protobuf", bytes.NewReader(bodies[i]))
		if err != nil {
			b.Fatal(err)
		}
		answer, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		acked := time.Now()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("request %d: status %d: %s", i, res.StatusCode, answer)
		}
		ackedAt[i].Store(acked.UnixNano())
		ackLat = append(ackLat, acked.Sub(t0))
	}
	if err := streams.WaitAll(int64(b.N*e2eBatch), e2eDrain); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(started)
	b.StopTimer()
	cancel()

	sendToLive, delivered, lost, err := streams.Collect()
	if err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	ackToLive := make([]time.Duration, len(deliveries))
	for i, d := range deliveries {
		ackToLive[i] = time.Duration(d.at - ackedAt[d.request].Load())
	}
	mu.Unlock()
	b.ReportMetric(auditqueryextension.BenchPercentileMS(ackToLive, 0.50), "ack-to-live-p50-ms")
	b.ReportMetric(auditqueryextension.BenchPercentileMS(ackToLive, 0.99), "ack-to-live-p99-ms")
	b.ReportMetric(auditqueryextension.BenchPercentileMS(sendToLive, 0.50), "send-to-live-p50-ms")
	b.ReportMetric(auditqueryextension.BenchPercentileMS(sendToLive, 0.99), "send-to-live-p99-ms")
	b.ReportMetric(auditqueryextension.BenchPercentileMS(ackLat, 0.99), "ack-p99-ms")
	b.ReportMetric(float64(delivered)/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(float64(lost), "lost")
	// An iteration is a paced request: ns/op would only restate the interval.
	b.ReportMetric(0, "ns/op")
}
