// Package dlq is the audit exporter's dead-letter queue: batches the store refused after the
// exporter's own retries are written to disk, one file per batch, so that no acknowledged
// record is lost; a retry engine re-inserts them later. See README.md for the file format,
// the states and their transitions.
//
// One process owns a DLQ directory at a time (the collector). The operator functions (List,
// Inspect, Requeue) work on the directory without opening a Queue and may run beside it.
package dlq

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/config/configretry"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Defaults for the zero fields of Options.
const (
	DefaultScanInterval = 60 * time.Second
	DefaultMaxFailures  = 10
	DefaultMaxBytes     = int64(1) << 30
)

var (
	// ErrFull: Put would take the directory past MaxBytes. Nothing was written. The caller
	// must refuse new data with a retryable error rather than acknowledge it.
	ErrFull = errors.New("dead-letter queue is full")
	// ErrNotFound: no batch file of that name.
	ErrNotFound = errors.New("batch file not found")
)

// Options tune a Queue. Zero fields take the defaults above.
type Options struct {
	// ScanInterval is the time between two retry scans (Kick starts one sooner).
	ScanInterval time.Duration
	// MaxFailures is the number of failed retry attempts after which a batch is dead.
	MaxFailures int
	// MaxBytes caps the bytes of every file in the directory, dead and corrupt ones included:
	// they occupy the same disk, and an audit trail must not fill it.
	MaxBytes int64
	// Logger receives one line per dead or corrupt batch and per scan stopped by a failure.
	Logger *zap.Logger
	// RetryBackoff paces the scans after one that found the store down: the next comes after
	// its backoff (the exporter's retry_on_failure), never later than ScanInterval, so a short
	// outage's backlog drains soon after the store is back. Zero: every scan waits
	// ScanInterval.
	RetryBackoff configretry.BackOffConfig
}

func (o Options) withDefaults() (Options, error) {
	if o.ScanInterval < 0 {
		return o, fmt.Errorf("dlq: scan_interval %s is negative", o.ScanInterval)
	}
	if o.MaxFailures < 0 {
		return o, fmt.Errorf("dlq: max_failures %d is negative", o.MaxFailures)
	}
	if o.MaxBytes < 0 {
		return o, fmt.Errorf("dlq: max_bytes %d is negative", o.MaxBytes)
	}
	if o.ScanInterval == 0 {
		o.ScanInterval = DefaultScanInterval
	}
	if o.MaxFailures == 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o, nil
}

// Stats is a point-in-time view for health and telemetry. The gauges are recounted from the
// directory at Open and at every scan (so an operator's Requeue shows up), and kept current
// by Put and the retry engine in between. The totals count since Open.
type Stats struct {
	Files        int   `json:"files"`         // batches waiting for delivery (.batch, .processing)
	Bytes        int64 `json:"bytes"`         // bytes of every batch file, in any state
	DeadFiles    int   `json:"dead_files"`    // .dead
	CorruptFiles int   `json:"corrupt_files"` // .corrupt
	MaxBytes     int64 `json:"max_bytes"`

	Put       uint64 `json:"put_total"`       // batches written by Put
	Retried   uint64 `json:"retried_total"`   // insert attempts by the retry engine
	Recovered uint64 `json:"recovered_total"` // batches the engine delivered and removed
	Dead      uint64 `json:"dead_total"`      // batches the engine declared dead
	Corrupted uint64 `json:"corrupted_total"` // batch files the engine set aside as corrupt
	// SalvagedRecords were read back from damaged files into new batches; LostRecords could
	// not be read from them (kept in the .corrupt files for a human).
	SalvagedRecords uint64 `json:"salvaged_records_total"`
	LostRecords     uint64 `json:"lost_records_total"`
	Full            uint64 `json:"full_total"` // Put calls refused with ErrFull
}

// Queue is a DLQ directory opened for writing and retrying. Its methods are safe for
// concurrent use.
type Queue struct {
	dir  string
	opts Options
	now  func() time.Time

	mu       sync.Mutex
	stats    Stats
	reserved int64 // bytes of Puts between their cap check and their rename

	scanMu sync.Mutex // one scan at a time

	kick    chan struct{}
	runMu   sync.Mutex
	cancel  func()
	done    chan struct{}
	started bool
}

// Open opens (creating it if needed) the DLQ directory dir. Files left by a previous process
// are recovered: a .processing file (stopped mid-insert) goes back to .batch, and a .tmp file
// (a write that never completed, so never acknowledged) is removed.
func Open(dir string, opts Options) (*Queue, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dlq: create directory %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dlq: read directory %s: %w", dir, err)
	}
	changed := false
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(name, tmpExt) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("dlq: remove unfinished %s: %w", name, err)
			}
			changed = true
			continue
		}
		if id, s, ok := splitName(name); ok && s == StateProcessing {
			if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, fileName(id, StateBatch))); err != nil {
				return nil, fmt.Errorf("dlq: recover %s: %w", name, err)
			}
			changed = true
		}
	}
	if changed {
		if err := atomicfile.SyncDir(dir); err != nil {
			return nil, err
		}
	}
	q := &Queue{dir: dir, opts: opts, now: time.Now, kick: make(chan struct{}, 1)}
	if err := q.recount(); err != nil {
		return nil, err
	}
	return q, nil
}

// Dir is the directory the queue lives in.
func (q *Queue) Dir() string { return q.dir }

// Stats returns the current counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

// recount sets the gauges from the directory. It holds mu while listing so that a Put's
// rename is counted exactly once (either listed here or added after).
func (q *Queue) recount() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("dlq: read directory %s: %w", q.dir, err)
	}
	var files, dead, corrupt int
	var size int64
	for _, e := range entries {
		_, s, ok := splitName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since the listing
		}
		size += info.Size()
		switch s {
		case StateBatch, StateProcessing:
			files++
		case StateDead:
			dead++
		case StateCorrupt:
			corrupt++
		}
	}
	q.stats.Files, q.stats.DeadFiles, q.stats.CorruptFiles, q.stats.Bytes = files, dead, corrupt, size
	q.stats.MaxBytes = q.opts.MaxBytes
	return nil
}

// Put writes records of tenant as one new batch file; cause is the insert error that sent
// them here and is kept as the batch's last error. When Put returns nil the batch is on disk
// (file and directory entry fsynced). An error wrapping ErrFull means the cap would be
// exceeded; nothing was written. An empty batch writes nothing.
func (q *Queue) Put(tenant string, records []record.Record, cause error) error {
	if len(records) == 0 {
		return nil
	}
	lines, err := encodeRecords(records)
	if err != nil {
		return fmt.Errorf("dlq: put %d records of tenant %q: %w", len(records), tenant, err)
	}
	now := q.now()
	data, err := encodeFile(newHeader(tenant, now, len(records), cause), lines)
	if err != nil {
		return fmt.Errorf("dlq: put %d records of tenant %q: %w", len(records), tenant, err)
	}
	size := int64(len(data))

	q.mu.Lock()
	if used := q.stats.Bytes + q.reserved; used+size > q.opts.MaxBytes {
		q.stats.Full++
		q.mu.Unlock()
		return fmt.Errorf("dlq: put %d records (%d bytes) of tenant %q: %w (%d of %d bytes used)", len(records), size, tenant, ErrFull, used, q.opts.MaxBytes)
	}
	q.reserved += size
	q.mu.Unlock()

	id := batchID(tenant, now.UnixMilli(), randomSuffix())
	tmp, err := writeTemp(q.dir, id, data)
	if err == nil {
		q.mu.Lock()
		err = os.Rename(tmp, filepath.Join(q.dir, fileName(id, StateBatch)))
		q.reserved -= size
		if err == nil {
			q.stats.Files++
			q.stats.Bytes += size
			q.stats.Put++
		}
		q.mu.Unlock()
		if err != nil {
			_ = os.Remove(tmp)
		}
	} else {
		q.mu.Lock()
		q.reserved -= size
		q.mu.Unlock()
	}
	if err == nil {
		err = atomicfile.SyncDir(q.dir)
	}
	if err != nil {
		return fmt.Errorf("dlq: put %d records of tenant %q: %w", len(records), tenant, err)
	}
	return nil
}

// randomSuffix is 64 random bits in hex: two batches of one tenant in one millisecond still
// get distinct names.
func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// writeTemp writes data to a new temp file (mode 0600: audit data) for batch id in dir and
// fsyncs it. The caller renames it into place.
func writeTemp(dir, id string, data []byte) (string, error) {
	return atomicfile.WriteTemp(dir, id+".*"+tmpExt, data)
}

// replaceFile atomically replaces path's content with data (temp file, fsync, rename). The
// directory is not synced; the caller does it after its last rename.
func replaceFile(dir, id, path string, data []byte) error {
	tmp, err := writeTemp(dir, id, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", filepath.Base(path), err)
	}
	return nil
}
