package otlpguardextension

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-audit/otelcol-audit/extension/otlpguardextension/internal/metadata"
)

// countingReader counts the bytes read from the body, so that a test can say how much the
// guard had read when it handed the request on (or refused it).
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// largeBody is a JSON body of at least size bytes: head, then elements repeated inside an
// array, then tail.
func largeBody(head, element, tail string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(head)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, element, i)
	}
	b.WriteString(tail)
	return b.Bytes()
}

// A large body is looked at through a bounded prefix: the guard has read at most prefixLimit+1
// bytes when it hands the request to the receiver or refuses it, and the receiver reads the
// body byte for byte as sent.
func TestGuard_LargeBodyIsInspectedThroughABoundedPrefix(t *testing.T) {
	const size = 8 << 20
	otlp := largeBody(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[`, `{"timeUnixNano":"%d","body":{"stringValue":"a log line of some length"}}`, `]}]}]}`, size)
	events := largeBody(`[`, `{"action":"user.login","user_id":"u-%d"}`, `]`, size)
	event := largeBody(`{"action":"user.login","metadata":{"items":[`, `"item %d"`, `]}}`, size)
	unknown := largeBody(`{"logs":[`, `{"n":%d}`, `]}`, size)
	// Within the prefix, fields that OTLP does not know and then a value that runs beyond it.
	lateField := largeBody(`{"logs":1,"message":"x","data":[`, `{"n":%d}`, `],"resourceLogs":[]}`, size)
	tests := []struct {
		name        string
		body        []byte
		wantStatus  int
		wantMessage string
	}{
		{"a large OTLP request passes byte for byte", otlp, 200, ""},
		{"a large array of audit events is refused", events, 400, "an array of audit events"},
		{"a large audit event is refused", event, 400, "an audit event (the audit receiver's JSON schema)"},
		{"a large object without OTLP fields is refused", unknown, 400, "no resourceLogs"},
		{"a large object whose first 64 KiB hold no OTLP field is refused", lateField, 400, "only data, logs, message"},
	}
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), createDefaultConfig())
	require.NoError(t, err)
	wrap, err := ext.(*guard).GetHTTPHandler(context.Background())
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingReader{r: bytes.NewReader(tt.body)}
			readBeforeHandover := -1
			var got []byte
			h, err := wrap(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				readBeforeHandover = src.n
				got, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusOK)
			}))
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "/v1/logs", src)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantStatus == http.StatusOK {
				assert.LessOrEqual(t, readBeforeHandover, prefixLimit+1, "bytes the guard read before handing the body on")
				assert.True(t, bytes.Equal(tt.body, got), "the receiver gets the body as sent (%d of %d bytes)", len(got), len(tt.body))
				return
			}
			assert.LessOrEqual(t, src.n, prefixLimit+1, "bytes the guard read before refusing")
			assert.Contains(t, rec.Body.String(), tt.wantMessage)
			assert.Equal(t, -1, readBeforeHandover, "a refused body never reaches the receiver")
		})
	}
}

// The guard's memory for a large OTLP request does not grow with the body: a body 8 times as
// large (7 MiB more) costs well under 1 MiB more (the receiver here discards what it reads).
// Bytes, not allocation counts: a count moves by one or two with whatever else the runtime
// allocates meanwhile, while a buffer that held the body would add at least 7 MiB.
func TestGuard_LargeBodyAllocationIsBounded(t *testing.T) {
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), createDefaultConfig())
	require.NoError(t, err)
	wrap, err := ext.(*guard).GetHTTPHandler(context.Background())
	require.NoError(t, err)
	h, err := wrap(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	require.NoError(t, err)
	small := largeBody(`{"resourceLogs":[`, `{"n":%d}`, `]}`, 1<<20)
	large := largeBody(`{"resourceLogs":[`, `{"n":%d}`, `]}`, 8<<20)
	// The fewest bytes of five runs: other goroutines' allocations only ever add.
	bytesPerRun := func(body []byte) uint64 {
		fewest := uint64(math.MaxUint64)
		for range 5 {
			req := httptest.NewRequest(http.MethodPost, "/v1/logs", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			h.ServeHTTP(rec, req)
			runtime.ReadMemStats(&after)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			fewest = min(fewest, after.TotalAlloc-before.TotalAlloc)
		}
		return fewest
	}
	smallBytes, largeBytes := bytesPerRun(small), bytesPerRun(large)
	assert.Less(t, largeBytes, smallBytes+1<<20,
		"bytes allocated for an 8 MiB body (%d) against a 1 MiB body (%d)", largeBytes, smallBytes)
}
