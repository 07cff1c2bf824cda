package dlq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/retry"
)

// InsertFunc inserts the records of one tenant. A permanent error (consumererror.IsPermanent)
// says the batch can never succeed; any other error is taken as the store being unavailable.
type InsertFunc func(ctx context.Context, tenant string, records []record.Record) error

// ScanResult tells what one scan did.
type ScanResult struct {
	Delivered int // inserted and removed
	Failed    int // failed and kept (.batch) or, past MaxFailures, made dead
	Dead      int // made dead (invalid records or MaxFailures reached)
	Corrupt   int // set aside as .corrupt
	// Stopped is the insert error that ended the scan early, nil if the scan went through.
	Stopped error
}

// ErrStoreUnavailable, wrapped by an InsertFunc's error, says that the store failed every insert
// lately, not this batch: Scan records the attempt without counting it toward MaxFailures.
var ErrStoreUnavailable = errors.New("the store is unavailable")

// Scan makes one pass over the .batch files, oldest first, and inserts each with insert:
//   - success: the file is removed;
//   - a permanent error (consumererror.IsPermanent): the file becomes .dead at once, and the scan
//     goes on (the store answered, so it is up);
//   - any other error: the failure count grows, the file goes back to .batch (or to .dead
//     once it reaches MaxFailures), and the scan stops: the store looks down, and hammering it
//     with the rest of the backlog would not help;
//   - an error wrapping ErrStoreUnavailable: the same, except that the failure does not count
//     toward MaxFailures: the store is down for every batch, and an outage longer than
//     MaxFailures scans must not turn the backlog dead;
//   - ctx ends (Stop) during an insert that then fails: the file goes back to .batch
//     unchanged, since a shutdown is not the batch's failure.
//
// A file that cannot be read back as written becomes .corrupt and the scan goes on. While a
// file is inserted it is named .processing, so a crash leaves it for Open to recover: every
// batch is at every moment either delivered or on disk. The error is for the directory itself
// (listing, renaming); insert failures are in the result.
func (q *Queue) Scan(ctx context.Context, insert InsertFunc) (ScanResult, error) {
	q.scanMu.Lock()
	defer q.scanMu.Unlock()
	var res ScanResult
	if err := q.recount(); err != nil {
		return res, err
	}
	ids, err := pendingBatches(q.dir)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		stop, err := q.retryOne(ctx, id, insert, &res)
		if err != nil {
			return res, err
		}
		if stop {
			break
		}
	}
	return res, nil
}

// pendingBatches returns the ids of .batch files, oldest first: by the creation time in the
// name, then by name (a file named by hand without a time sorts first, by name).
func pendingBatches(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dlq: read directory %s: %w", dir, err)
	}
	type item struct {
		id string
		ms int64
	}
	var items []item
	for _, e := range entries {
		if id, s, ok := splitName(e.Name()); ok && s == StateBatch && e.Type().IsRegular() {
			ms, _ := idTime(id)
			items = append(items, item{id, ms})
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].ms != items[j].ms {
			return items[i].ms < items[j].ms
		}
		return items[i].id < items[j].id
	})
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	return ids, nil
}

// retryOne tries batch id once. stop reports that the scan should end.
func (q *Queue) retryOne(ctx context.Context, id string, insert InsertFunc, res *ScanResult) (stop bool, err error) {
	batchPath := filepath.Join(q.dir, fileName(id, StateBatch))
	procPath := filepath.Join(q.dir, fileName(id, StateProcessing))
	if err := os.Rename(batchPath, procPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil // moved by an operator since the listing
		}
		return true, fmt.Errorf("dlq: claim %s: %w", fileName(id, StateBatch), err)
	}
	// From here on, every path ends in a rename away from .processing or a removal.
	data, err := os.ReadFile(procPath)
	if err != nil {
		return true, q.moveBack(id, fmt.Errorf("dlq: read %s: %w", fileName(id, StateProcessing), err))
	}
	b, err := decodeFile(data)
	if err != nil {
		// What the damage did not touch goes on as a new batch before the file is set aside,
		// so a crash between the two at worst salvages it twice (inserts are idempotent).
		sv, serr := salvage(data)
		if serr == nil && len(sv.Records) > 0 {
			if perr := q.Put(sv.Tenant, sv.Records, fmt.Errorf("salvaged from damaged DLQ file %s (%d records lost): %w", fileName(id, StateCorrupt), sv.Lost, err)); perr != nil {
				return true, q.moveBack(id, fmt.Errorf("dlq: salvage %s: %w", fileName(id, StateProcessing), perr))
			}
		}
		if rerr := os.Rename(procPath, filepath.Join(q.dir, fileName(id, StateCorrupt))); rerr != nil {
			return true, q.moveBack(id, fmt.Errorf("dlq: set aside corrupt %s: %w", fileName(id, StateProcessing), rerr))
		}
		res.Corrupt++
		q.mu.Lock()
		q.stats.Files--
		q.stats.CorruptFiles++
		q.stats.Corrupted++
		q.stats.SalvagedRecords += uint64(len(sv.Records))
		q.stats.LostRecords += uint64(sv.Lost)
		q.mu.Unlock()
		q.opts.Logger.Error("DLQ batch file is damaged; its intact records were salvaged into a new batch, the file is set aside",
			zap.String("file", fileName(id, StateCorrupt)), zap.Int("salvaged", len(sv.Records)),
			zap.Int("lost", sv.Lost), zap.Ints("damaged_lines", sv.Damaged), zap.NamedError("salvage_error", serr), zap.Error(err))
		return false, atomicfile.SyncDir(q.dir)
	}

	ierr := insert(ctx, b.Header.tenant(), b.Records)
	q.mu.Lock()
	q.stats.Retried++
	q.mu.Unlock()

	if ierr == nil {
		if err := os.Remove(procPath); err != nil {
			// Delivered but not removed: it goes back and is delivered again later, which
			// the store's idempotent insert absorbs.
			return true, q.moveBack(id, fmt.Errorf("dlq: remove delivered %s: %w", fileName(id, StateProcessing), err))
		}
		res.Delivered++
		q.mu.Lock()
		q.stats.Files--
		q.stats.Bytes -= int64(len(data))
		q.stats.Recovered++
		q.mu.Unlock()
		return false, atomicfile.SyncDir(q.dir)
	}
	if ctx.Err() != nil {
		return true, q.moveBack(id, nil)
	}

	invalid := consumererror.IsPermanent(ierr)
	h := b.Header
	if !errors.Is(ierr, ErrStoreUnavailable) {
		h.Failures++
	}
	// The header is for an operator: the store's words, without consumererror's label.
	h.LastError = truncateError(strings.TrimPrefix(ierr.Error(), "Permanent error: "))
	at := q.now().UTC()
	h.LastAttemptAt = &at
	dead := invalid || h.Failures >= q.opts.MaxFailures
	newData, err := encodeFile(h, b.lines)
	if err == nil {
		err = replaceFile(q.dir, id, procPath, newData)
	}
	if err != nil {
		// The count cannot be recorded (disk full?); the batch itself is intact.
		q.opts.Logger.Warn("DLQ cannot record a failed retry in the batch header",
			zap.String("file", fileName(id, StateProcessing)), zap.Error(err))
		newData = data
	}
	target := StateBatch
	if dead {
		target = StateDead
	}
	if err := os.Rename(procPath, filepath.Join(q.dir, fileName(id, target))); err != nil {
		return true, fmt.Errorf("dlq: move %s to %s: %w", fileName(id, StateProcessing), target, err)
	}
	res.Failed++
	q.mu.Lock()
	q.stats.Bytes += int64(len(newData) - len(data))
	if dead {
		res.Dead++
		q.stats.Files--
		q.stats.DeadFiles++
		q.stats.Dead++
	}
	q.mu.Unlock()
	if dead {
		reason := "too many failed retries"
		if invalid {
			reason = "the store refuses its records as invalid"
		}
		q.opts.Logger.Error("DLQ batch is dead: not retried until an operator requeues it (auditctl dlq requeue)",
			zap.String("file", fileName(id, StateDead)), zap.String("reason", reason),
			zap.Int("failures", h.Failures), zap.Error(ierr))
	}
	if err := atomicfile.SyncDir(q.dir); err != nil {
		return true, err
	}
	if invalid {
		return false, nil
	}
	res.Stopped = ierr
	return true, nil
}

// moveBack returns a .processing file to .batch unchanged, and returns cause (or the rename
// error if that fails too: the file then stays .processing, which Open recovers).
func (q *Queue) moveBack(id string, cause error) error {
	err := os.Rename(filepath.Join(q.dir, fileName(id, StateProcessing)), filepath.Join(q.dir, fileName(id, StateBatch)))
	if err != nil {
		return errors.Join(cause, fmt.Errorf("dlq: return %s to the queue: %w", fileName(id, StateProcessing), err))
	}
	if err := atomicfile.SyncDir(q.dir); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// Kick asks the retry engine for a scan now, without waiting for ScanInterval. It never
// blocks; kicks during a scan fold into one more scan.
func (q *Queue) Kick() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Run scans at once, then ScanInterval after the end of each scan (sooner, by RetryBackoff,
// after a scan the store stopped) or on Kick, until ctx ends. It returns when no scan is
// running any more.
func (q *Queue) Run(ctx context.Context, insert InsertFunc) {
	var backoff *retry.Backoff
	if q.opts.RetryBackoff.InitialInterval > 0 {
		backoff = retry.NewBackoff(q.opts.RetryBackoff)
	}
	for {
		res, err := q.Scan(ctx, insert)
		next := q.opts.ScanInterval
		if backoff != nil {
			if res.Stopped != nil {
				next = min(backoff.Next(), q.opts.ScanInterval)
			} else {
				backoff.Reset()
			}
		}
		switch {
		case err != nil:
			q.opts.Logger.Error("DLQ scan failed", zap.Error(err))
		case res.Stopped != nil && ctx.Err() == nil:
			q.opts.Logger.Warn("DLQ retry failed; the store looks unavailable",
				zap.Duration("next_scan_in", next), zap.Int("delivered", res.Delivered), zap.Error(res.Stopped))
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-q.kick:
			t.Stop()
		}
	}
}

// Start runs the retry engine in a goroutine owned by q until Stop.
func (q *Queue) Start(insert InsertFunc) error {
	q.runMu.Lock()
	defer q.runMu.Unlock()
	if q.started {
		return errors.New("dlq: retry engine already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	q.cancel, q.done, q.started = cancel, make(chan struct{}), true
	go func() {
		defer close(q.done)
		q.Run(ctx, insert)
	}()
	return nil
}

// Stop cancels the retry engine and waits for it: an insert in flight sees its context
// cancelled, and its batch is either delivered (and removed) or back to .batch when Stop
// returns. Safe before Start and twice.
func (q *Queue) Stop() {
	q.runMu.Lock()
	cancel, done := q.cancel, q.done
	q.cancel = nil
	q.runMu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}
