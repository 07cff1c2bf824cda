package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// Config describes one load run.
type Config struct {
	// Endpoint is the full URL of an OTLP/HTTP logs endpoint, e.g. http://127.0.0.1:4318/v1/logs.
	Endpoint string
	// Senders is the number of concurrent senders, each with one request in flight at a time.
	Senders int
	// BatchSize is the number of records per request.
	BatchSize int
	// Rate is the target of records per second over all senders; 0 sends as fast as the
	// endpoint answers.
	Rate float64
	// Duration stops the run when it has passed; Records stops it after that many records
	// have been sent. At least one of them must be set; the first reached ends the run.
	Duration time.Duration
	Records  int64
	// Timeout bounds one request; a request that times out counts as failed.
	Timeout time.Duration
	// Pool is the number of distinct requests built before the run and sent in turn, so that
	// building records does not take CPU from the system under test during the run.
	Pool int
	// Seed makes the records reproducible.
	Seed uint64
	// Headers are added to every request (e.g. authorization).
	Headers map[string]string
	// Acked, when set, grows by each request's acknowledged records as its answer arrives,
	// so that a caller can sample the run's progress while it lasts (a soak).
	Acked *atomic.Int64
	// Refused, when set, grows by the records of each request refused whole (a non-2xx
	// answer) as the answer arrives: the endpoint pushing back.
	Refused *atomic.Int64
}

// Result is what one run measured.
type Result struct {
	Requests int64
	// AckedRecords were answered 2xx (less those a partial success rejected); RefusedRecords
	// were answered otherwise or rejected; FailedRecords got no answer (transport error or
	// timeout).
	AckedRecords, RefusedRecords, FailedRecords int64
	// SecretRecords is the number of acknowledged records that carried a secret.
	SecretRecords int64
	// Status counts answers by HTTP status code; 0 counts transport errors.
	Status map[int]int64
	// LastError is the last transport error or refusal seen, for the operator.
	LastError string
	// Elapsed runs from the first request to the last answer.
	Elapsed time.Duration
	// Latency holds the acknowledgement latency of every 2xx request, measured from the start
	// of sending the request to the end of reading the answer.
	Latency *Histogram
}

// AckedPerSecond is the acknowledged records per second over Elapsed.
func (r Result) AckedPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.AckedRecords) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	return fmt.Sprintf("requests=%d acked=%d refused=%d failed=%d elapsed=%s acked/s=%.0f ack-p50=%s ack-p99=%s max=%s status=%v",
		r.Requests, r.AckedRecords, r.RefusedRecords, r.FailedRecords, r.Elapsed.Round(time.Millisecond), r.AckedPerSecond(),
		r.Latency.Quantile(0.5), r.Latency.Quantile(0.99), r.Latency.Max(), r.Status)
}

func (c *Config) applyDefaults() error {
	if c.Endpoint == "" {
		return errors.New("loadgen: endpoint is empty")
	}
	if c.Senders <= 0 {
		c.Senders = 1
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Duration <= 0 && c.Records <= 0 {
		return errors.New("loadgen: neither duration nor records is set: the run would not end")
	}
	if c.Rate < 0 {
		return fmt.Errorf("loadgen: rate %v is negative", c.Rate)
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Pool <= 0 {
		c.Pool = 64
	}
	return nil
}

type body struct {
	data    []byte
	records int
	secrets int
	// observed is the records' ObservedTimestamp and stamps the offsets of its encoded
	// values in data (one per record).
	observed uint64
	stamps   []int
	// times are the offsets of the records' encoded Timestamps in data, built holds their
	// values as built.
	times []int
	built []uint64
}

// observedTag and timeTag are the protobuf keys of LogRecord.observed_time_unix_nano (field
// 11, fixed64) and time_unix_nano (field 1, fixed64).
const (
	observedTag = 11<<3 | 1
	timeTag     = 1<<3 | 1
)

func buildBody(b *Builder, n int) (body, error) {
	ld, st := b.Build(n)
	data, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		return body{}, fmt.Errorf("loadgen: marshal request: %w", err)
	}
	out := body{data: data, records: st.Records, secrets: st.WithSecret, observed: uint64(st.Observed.UnixNano())}
	// The nine bytes key + value are unique enough in a request to find every record's copy.
	pattern := binary.LittleEndian.AppendUint64([]byte{observedTag}, out.observed)
	for i := 0; ; {
		j := bytes.Index(data[i:], pattern)
		if j < 0 {
			break
		}
		out.stamps = append(out.stamps, i+j+1)
		i += j + len(pattern)
	}
	if len(out.stamps) != st.Records {
		return body{}, fmt.Errorf("loadgen: found %d observed timestamps in a request of %d records", len(out.stamps), st.Records)
	}
	// Records are encoded in order: record i's Timestamp lies between the ObservedTimestamps
	// of records i-1 and i+1, on one side of its own.
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < recs.Len(); i++ {
		ts := uint64(recs.At(i).Timestamp())
		pattern := binary.LittleEndian.AppendUint64([]byte{timeTag}, ts)
		from, to := 0, len(data)
		if i > 0 { // and past record i-1's Timestamp, which may hold the same value
			from = max(out.stamps[i-1], out.times[i-1]) + 8
		}
		if i+1 < len(out.stamps) {
			to = out.stamps[i+1] - 1
		}
		j := bytes.Index(data[from:to], pattern)
		if j < 0 {
			return body{}, fmt.Errorf("loadgen: record %d: its timestamp is not found in the encoded request", i)
		}
		out.times = append(out.times, from+j+1)
		out.built = append(out.built, ts)
	}
	return out, nil
}

// stamp returns a copy of the request whose records' ObservedTimestamp is moved by slot
// nanoseconds and whose Timestamps are moved by age, the time since the pool was built. The
// pool's requests are sent many times; collectors derive a record's identity from its content
// (so that a client's resend is stored once), and without the slot every round through the
// pool would be a resend. Without the age, every record of a run would carry a time of the
// pool's making, which no real sender does: a store that keeps its data in time ranges would
// find every range overlapping every insert.
func (b body) stamp(slot int64, age time.Duration) []byte {
	out := bytes.Clone(b.data)
	for _, off := range b.stamps {
		binary.LittleEndian.PutUint64(out[off:], b.observed+uint64(slot))
	}
	for i, off := range b.times {
		binary.LittleEndian.PutUint64(out[off:], b.built[i]+uint64(max(age, 0)))
	}
	return out
}

// Run sends load as cfg says and returns what was measured. Cancelling ctx ends the run early;
// requests in flight are then abandoned and count as failed.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.applyDefaults(); err != nil {
		return Result{}, err
	}
	builder := NewBuilder(cfg.Seed)
	poolBuilt := time.Now() // the records' Timestamps are of about this time; sends move them on
	pool := make([]body, cfg.Pool)
	for i := range pool {
		var err error
		if pool[i], err = buildBody(builder, cfg.BatchSize); err != nil {
			return Result{}, err
		}
	}
	var lastBody body // the tail of a Records-bounded run, when it is not a whole batch
	if rem := cfg.Records % int64(cfg.BatchSize); cfg.Records > 0 && rem != 0 {
		var err error
		if lastBody, err = buildBody(builder, int(rem)); err != nil {
			return Result{}, err
		}
	}
	lastSlot := int64(-1)
	if cfg.Records > 0 {
		lastSlot = (cfg.Records+int64(cfg.BatchSize)-1)/int64(cfg.BatchSize) - 1
	}

	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Senders * 2,
		MaxIdleConnsPerHost: cfg.Senders * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
	defer client.CloseIdleConnections()

	var interval time.Duration // between request slots, over all senders
	if cfg.Rate > 0 {
		interval = time.Duration(float64(cfg.BatchSize) / cfg.Rate * float64(time.Second))
	}
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}

	type senderResult struct {
		requests, acked, refused, failed, secrets int64
		status                                    map[int]int64
		lastErr                                   string
		hist                                      Histogram
	}
	results := make([]senderResult, cfg.Senders)
	var slots atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for s := range cfg.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[s]
			res.status = map[int]int64{}
			for {
				if runCtx.Err() != nil {
					return
				}
				slot := slots.Add(1) - 1
				if lastSlot >= 0 && slot > lastSlot {
					return
				}
				if interval > 0 {
					due := start.Add(time.Duration(slot) * interval)
					if wait := time.Until(due); wait > 0 {
						t := time.NewTimer(wait)
						select {
						case <-runCtx.Done():
							t.Stop()
							return
						case <-t.C:
						}
					}
				}
				b := pool[int(slot)%len(pool)]
				if slot == lastSlot && lastBody.records > 0 {
					b = lastBody
				}
				// A request in flight when the duration ends is completed, not abandoned: its
				// answer is part of what the endpoint acknowledged.
				reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Timeout)
				rejected, status, took, retryAfter, err := send(reqCtx, client, cfg, b.stamp(slot, time.Since(poolBuilt)))
				cancel()
				res.requests++
				res.status[status]++
				switch {
				case err != nil && status == 0:
					res.failed += int64(b.records)
					res.lastErr = err.Error()
				case err != nil:
					res.refused += int64(b.records)
					res.lastErr = err.Error()
					if cfg.Refused != nil {
						cfg.Refused.Add(int64(b.records))
					}
				default:
					acked := int64(b.records) - min(max(rejected, 0), int64(b.records))
					res.acked += acked
					if cfg.Acked != nil {
						cfg.Acked.Add(acked)
					}
					res.refused += int64(b.records) - acked
					if acked == int64(b.records) {
						res.secrets += int64(b.secrets)
					}
					res.hist.Record(took)
				}
				if retryAfter > 0 {
					// Throttled: wait as asked before the next request, as OpenTelemetry
					// SDKs do, instead of spending the endpoint's CPU on refusals. The
					// refusal is counted first, so that a watcher of Refused sees it at once.
					t := time.NewTimer(retryAfter)
					select {
					case <-runCtx.Done():
					case <-t.C:
					}
					t.Stop()
				}
			}
		}()
	}
	wg.Wait()
	out := Result{Elapsed: time.Since(start), Status: map[int]int64{}, Latency: &Histogram{}}
	for i := range results {
		r := &results[i]
		out.Requests += r.requests
		out.AckedRecords += r.acked
		out.RefusedRecords += r.refused
		out.FailedRecords += r.failed
		out.SecretRecords += r.secrets
		for k, v := range r.status {
			out.Status[k] += v
		}
		if r.lastErr != "" {
			out.LastError = r.lastErr
		}
		out.Latency.Merge(&r.hist)
	}
	return out, nil
}

// send posts one request and returns how many of its records the endpoint rejected in an
// OTLP partial success (0 on a plain 2xx); err is set when the answer is not 2xx (status is
// then the answer's code) or when there is no answer (status 0).
// send posts one request. A refusal (any non-2xx answer) is err with its status; one that
// asks for a wait (429 or 503 with Retry-After in seconds) also says how long in retryAfter.
func send(ctx context.Context, client *http.Client, cfg Config, data []byte) (rejected int64, status int, took, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Endpoint, bytes.NewReader(data))
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("loadgen: build request for %s: %w", cfg.Endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range cfg.Headers {
		req.Header.Set(k, v)
	}
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, time.Since(began), 0, fmt.Errorf("loadgen: post %s: %w", cfg.Endpoint, err)
	}
	answer, readErr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	took = time.Since(began)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
				retryAfter = time.Duration(secs) * time.Second
			}
		}
		return 0, resp.StatusCode, took, retryAfter, fmt.Errorf("loadgen: %s answered %s: %.200s", cfg.Endpoint, resp.Status, answer)
	}
	if readErr != nil {
		return 0, 0, took, 0, fmt.Errorf("loadgen: read answer of %s: %w", cfg.Endpoint, readErr)
	}
	if len(answer) > 0 && resp.Header.Get("Content-Type") == "application/x-protobuf" {
		er := plogotlp.NewExportResponse()
		if er.UnmarshalProto(answer) == nil {
			rejected = er.PartialSuccess().RejectedLogRecords()
		}
	}
	return rejected, resp.StatusCode, took, 0, nil
}
