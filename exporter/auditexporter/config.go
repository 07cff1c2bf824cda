package auditexporter

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Config is the exporter's configuration. Defaults live in createDefaultConfig.
type Config struct {
	// Mode is "durable" (every acknowledged record is in the write-ahead log, fsynced) or
	// "volatile" (RAM only: fastest, loses the queued records if the process dies).
	Mode string `mapstructure:"mode"`

	// DataDir holds the write-ahead log (wal/) and the dead-letter queue (dlq/).
	DataDir string `mapstructure:"data_dir"`

	// WAL tunes the write-ahead log (durable mode).
	WAL WALConfig `mapstructure:"wal"`

	// Batch says when queued records are flushed to the store.
	Batch BatchConfig `mapstructure:"batch"`

	// MaxQueueBytes bounds the memory of the records waiting for a flush (an estimate of their
	// heap, record.ApproxBytes). In durable mode it never refuses anything: records beyond it
	// wait in the write-ahead log and are read back as room frees (wal.max_bytes bounds that).
	// 0 means the mode's default (queueBytes).
	MaxQueueBytes int `mapstructure:"max_queue_bytes"`

	// OnQueueFull is what volatile mode does with a request that does not fit in the queue:
	// "dlq" (write it to the dead-letter queue on disk: nothing lost), "block" (refuse it
	// with a retryable error so the sender retries) or "drop" (count and discard). Durable
	// mode has no such choice to make: the WAL holds the overflow.
	OnQueueFull string `mapstructure:"on_queue_full"`

	// TimeoutConfig's timeout bounds each store insert (a flush attempt or a DLQ retry), as
	// exporterhelper's does each send.
	exporterhelper.TimeoutConfig `mapstructure:",squash"`

	// RetryOnFailure is the backoff of a failed insert; once MaxElapsedTime has passed the
	// batch goes to the dead-letter queue. The defaults retry 3 times, after about 1s, 2s and
	// 4s (± randomization_factor). The same backoff, without its time bound, paces writes the
	// DLQ refuses, and the DLQ's scans after one found the store down.
	RetryOnFailure configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// DLQ tunes the dead-letter queue.
	DLQ DLQConfig `mapstructure:"dlq"`

	// Store names the auditstore extension whose store the records go to. Several exporters
	// may name the same one.
	Store component.ID `mapstructure:"store"`

	// Limits bound what one record may be (nesting depth, values, key and value sizes); a
	// request with a record beyond them is refused whole with a permanent error that names
	// the record and the limit (OTLP/HTTP 400, gRPC InvalidArgument).
	Limits record.Limits `mapstructure:"limits"`

	// MinLevel drops records below it; security records are always kept.
	MinLevel record.Level `mapstructure:"min_level"`

	// Mapping says where record fields, such as the tenant, come from.
	Mapping record.Mapping `mapstructure:"mapping"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// WALConfig tunes the write-ahead log.
type WALConfig struct {
	// Sync is "always" (fsync before acknowledging: no acknowledged record is ever lost) or
	// "interval" (fsync every SyncInterval: a power loss may lose that window).
	Sync         string        `mapstructure:"sync"`
	SyncInterval time.Duration `mapstructure:"sync_interval"`
	SegmentSize  int64         `mapstructure:"segment_size"`
	// MaxBytes bounds the log on disk: acknowledged records not yet stored, the backlog when
	// the store is slower than the senders or down. Once reached, requests are refused with
	// a retryable error (senders keep their records and retry) until the store catches up.
	MaxBytes int64 `mapstructure:"max_bytes"`
}

// BatchConfig says when queued records are flushed: MaxSize records of one tenant, or the
// oldest queued record has waited FlushInterval, whichever comes first.
type BatchConfig struct {
	MaxSize       int           `mapstructure:"max_size"`
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// Workers is the number of concurrent flushes. SQLite has one writer: flushes in flight
	// together share its next transaction (group commit), fewer and larger commits; ClickHouse
	// takes them as concurrent inserts.
	Workers int `mapstructure:"workers"`
}

// DLQConfig tunes the dead-letter queue and its retry engine.
type DLQConfig struct {
	ScanInterval time.Duration `mapstructure:"scan_interval"`
	MaxFailures  int           `mapstructure:"max_failures"`
	MaxBytes     int64         `mapstructure:"max_bytes"`
}

const (
	modeDurable  = "durable"
	modeVolatile = "volatile"

	syncAlways   = "always"
	syncInterval = "interval"

	onFullDLQ   = "dlq"
	onFullBlock = "block"
	onFullDrop  = "drop"
)

var _ component.Config = (*Config)(nil)

// Validate checks the configuration without touching the disk or the network.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Mode {
	case modeDurable, modeVolatile:
	default:
		add("mode: unknown mode %q: expected %q or %q", c.Mode, modeDurable, modeVolatile)
	}
	if c.DataDir == "" {
		add("data_dir: must not be empty")
	}
	switch c.WAL.Sync {
	case syncAlways:
	case syncInterval:
		if c.WAL.SyncInterval <= 0 {
			add("wal.sync_interval: must be positive with sync: interval, got %s", c.WAL.SyncInterval)
		}
	default:
		add("wal.sync: unknown policy %q: expected %q or %q", c.WAL.Sync, syncAlways, syncInterval)
	}
	if c.WAL.SegmentSize < 1<<20 {
		add("wal.segment_size: must be at least 1 MiB, got %d", c.WAL.SegmentSize)
	}
	if c.Batch.MaxSize < 1 {
		add("batch.max_size: must be at least 1, got %d", c.Batch.MaxSize)
	}
	if c.Batch.FlushInterval <= 0 {
		add("batch.flush_interval: must be positive, got %s", c.Batch.FlushInterval)
	}
	if c.Batch.Workers < 1 {
		add("batch.workers: must be at least 1, got %d", c.Batch.Workers)
	}
	if c.MaxQueueBytes != 0 && c.MaxQueueBytes < 1<<20 {
		add("max_queue_bytes: must be 0 (the mode's default) or at least 1 MiB, got %d", c.MaxQueueBytes)
	}
	if c.WAL.MaxBytes < c.WAL.SegmentSize {
		add("wal.max_bytes: must be at least wal.segment_size (%d), got %d", c.WAL.SegmentSize, c.WAL.MaxBytes)
	}
	switch c.OnQueueFull {
	case onFullDLQ, onFullBlock:
	case onFullDrop:
		if c.Mode == modeDurable {
			add("on_queue_full: %q would discard records that durable mode promises to keep; use %q or %q, or mode: %q", onFullDrop, onFullDLQ, onFullBlock, modeVolatile)
		}
	default:
		add("on_queue_full: unknown policy %q: expected %q, %q or %q", c.OnQueueFull, onFullDLQ, onFullBlock, onFullDrop)
	}
	if c.Timeout <= 0 {
		add("timeout: must be positive, got %s", c.Timeout)
	}
	if err := c.RetryOnFailure.Validate(); err != nil {
		add("retry_on_failure: %w", err)
	}
	if c.DLQ.ScanInterval <= 0 {
		add("dlq.scan_interval: must be positive, got %s", c.DLQ.ScanInterval)
	}
	if c.DLQ.MaxFailures < 1 {
		add("dlq.max_failures: must be at least 1, got %d", c.DLQ.MaxFailures)
	}
	if c.DLQ.MaxBytes < 1<<20 {
		add("dlq.max_bytes: must be at least 1 MiB, got %d", c.DLQ.MaxBytes)
	}
	if !c.MinLevel.Valid() {
		errs = append(errs, fmt.Errorf("min_level: unknown level %d: expected one of debug, info, warn, error, security", c.MinLevel))
	}
	if len(c.Mapping.TenantAttributes) == 0 {
		errs = append(errs, errors.New("mapping.tenant_attributes: must name at least one attribute"))
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("limits.%w", err))
	}
	return errors.Join(errs...)
}

// The memory queue's default bounds (max_queue_bytes: 0), chosen by make bench's max load
// (exporter README, "Memory at max load"). In durable mode the WAL is the queue and memory only
// feeds the writer: 4 MiB delivered what 16 MiB did (0.99x and 0.86x of the store's ceiling
// against 0.87x) at 201-205 MiB peak RSS against 292, and 3 MiB (with the store's 24 MiB
// writer cache) what 4 did at about 20 MiB less. 2 MiB starved the writer. In volatile mode
// memory is the only buffer before the DLQ, and 4 MiB committed 0.6x as much during the load.
const (
	defaultDurableQueueBytes  = 3 << 20
	defaultVolatileQueueBytes = 16 << 20
)

// queueBytes is the memory queue's capacity: max_queue_bytes, or the mode's default.
func (c *Config) queueBytes() int {
	switch {
	case c.MaxQueueBytes > 0:
		return c.MaxQueueBytes
	case c.Mode == modeVolatile:
		return defaultVolatileQueueBytes
	default:
		return defaultDurableQueueBytes
	}
}
