package harness

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/otelcol-audit/otelcol-audit/testbed/redactbench"
)

// OursOptions are the knobs of the otelcol-audit benchmark configuration.
type OursOptions struct {
	// Mode is "durable" (WAL, ack after fsync) or "volatile".
	Mode string
	// OTLPPort and QueryPort are loopback ports; DataDir holds wal/, dlq/ and audit.db.
	OTLPPort, QueryPort int
	DataDir             string
	// MaxQueueBytes bounds the memory of the records waiting for a flush; in durable mode the
	// rest waits in the WAL, in volatile mode it spills to the DLQ.
	MaxQueueBytes int
	// LegacyQueueRecords, when > 0, writes the exporter's queue settings as versions before
	// 729837b read them: max_queue_size (records) with on_queue_full: dlq, each request past it
	// spilled to its own DLQ file. MaxQueueBytes is then ignored: those versions refuse the key,
	// as current versions refuse max_queue_size. The benchmark's baseline build uses it.
	LegacyQueueRecords int
}

// DBPath is where OursConfig puts the SQLite file.
func (o OursOptions) DBPath() string { return filepath.Join(o.DataDir, "audit.db") }

// OursConfig is the distribution's default pipeline (OTLP/HTTP -> redact -> audit exporter ->
// SQLite, query extension attached) with the benchmark's batch settings: max_size 1000,
// flush_interval 1s, the given memory queue (in bytes, or in records for the legacy shape), fsync on every WAL group commit, and a short DLQ scan so
// that anything spilled is retried within the drain window. Internal metrics are off in every
// benchmarked pipeline alike.
func OursConfig(o OursOptions) string {
	return fmt.Sprintf(`extensions:
  auditstore:
    backend: sqlite
    sqlite:
      path: %[6]s
  auditquery:
    endpoint: 127.0.0.1:%[2]d
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[1]d
processors:
  redact: {}
exporters:
  audit:
    mode: %[3]s
    data_dir: %[4]s
    wal:
      sync: always
    batch:
      max_size: 1000
      flush_interval: 1s
    %[5]s
    on_queue_full: dlq
    dlq:
      scan_interval: 2s
service:
  extensions: [auditstore, auditquery]
  pipelines:
    logs:
      receivers: [otlp]
      processors: [redact]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, o.OTLPPort, o.QueryPort, o.Mode, o.DataDir, o.queueSetting(), o.DBPath())
}

// queueSetting is the exporter's queue bound: max_queue_bytes, or max_queue_size for the
// legacy configuration shape.
func (o OursOptions) queueSetting() string {
	if o.LegacyQueueRecords > 0 {
		return fmt.Sprintf("max_queue_size: %d", o.LegacyQueueRecords)
	}
	return fmt.Sprintf("max_queue_bytes: %d", o.MaxQueueBytes)
}

// QueueBound says, for a report, which max_queue_bytes a pipeline ran with: 0 is the mode's
// default, which reports must name rather than print as "0 MiB".
func QueueBound(bytes int) string {
	if bytes == 0 {
		return "max_queue_bytes at its default (3 MiB durable, 16 MiB volatile)"
	}
	return "max_queue_bytes " + strconv.FormatFloat(float64(bytes)/(1<<20), 'f', -1, 64) + " MiB"
}

// StockOptions are the knobs of the stock pipeline configuration.
type StockOptions struct {
	OTLPPort int
	// StorageDir holds file_storage's queue files; SinkURL is where records are forwarded.
	StorageDir string
	SinkURL    string
	// QueueSize is the persistent queue's capacity in requests.
	QueueSize int
}

// StockConfig is the pipeline a user would assemble from upstream parts: the OTLP receiver,
// contrib's redactionprocessor, and the core otlphttp exporter whose sending queue is
// persisted by contrib's file_storage with fsync. The redaction settings are redactbench's
// (allow every key, the key and value expressions closest to our default rules, silent
// summary), so this pipeline redacts what the redact comparison measured. The queue
// acknowledges on enqueue (wait_for_result: false, the default). Compression to the sink is
// off: it is loopback, and gzip would spend CPU on the shared cores that neither pipeline needs.
func StockConfig(o StockOptions) string {
	return fmt.Sprintf(`extensions:
  file_storage:
    directory: %[2]s
    create_directory: true
    fsync: true
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[1]d
processors:
  redaction:
    allow_all_keys: true
    blocked_key_patterns: %[5]s
    blocked_values: %[6]s
    summary: silent
exporters:
  otlphttp:
    endpoint: %[3]s
    compression: none
    sending_queue:
      enabled: true
      storage: file_storage
      queue_size: %[4]d
      num_consumers: 10
service:
  extensions: [file_storage]
  pipelines:
    logs:
      receivers: [otlp]
      processors: [redaction]
      exporters: [otlphttp]
  telemetry:
    metrics:
      level: none
`, o.OTLPPort, o.StorageDir, o.SinkURL, o.QueueSize,
		yamlList(redactbench.ContribKeyPatterns), yamlList(redactbench.ContribValuePatterns))
}

// yamlList writes strings as a YAML flow sequence. JSON strings are YAML double-quoted
// scalars; a "$" is doubled because the collector's resolver expands ${...} and reads $$ as $.
func yamlList(items []string) string {
	data, err := json.Marshal(items)
	if err != nil {
		panic(err) // a []string always marshals
	}
	return strings.ReplaceAll(string(data), "$", "$$")
}
