package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// ErrNotDead: Requeue was asked for a batch that is not dead. Only dead batches are
// requeued; the others are already queued (or corrupt, which needs a human, not a retry).
var ErrNotDead = errors.New("batch is not dead")

// ErrNotDamaged: Salvage was asked for a file that reads back whole.
var ErrNotDamaged = errors.New("batch file is not damaged; nothing to salvage")

// The operator functions work on a DLQ directory without opening a Queue, so they never run
// Open's recovery behind a running collector's back. None of them deletes a batch: an audit
// trail does not lose data to an operator's typo. Removing a file stays a deliberate `rm`.

// Entry describes one batch file for List.
type Entry struct {
	Name          string     `json:"name"`
	State         State      `json:"state"`
	Tenant        string     `json:"tenant"`
	Records       int        `json:"records"`
	Bytes         int64      `json:"bytes"`
	Failures      int        `json:"failures"`
	Requeues      int        `json:"requeues,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	// Problem says why the file cannot be read; the other fields then come from whatever part
	// of the header could be read, or from the file name.
	Problem string `json:"problem,omitempty"`
}

// List describes every batch file in dir, in every state, oldest first. Each file is read
// and verified whole, so a file that would turn out corrupt at its next retry shows a Problem
// now. A missing directory is an empty DLQ.
func List(dir string) ([]Entry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		// Not "no batch files": a mistyped --dir must not look like an empty, healthy queue.
		return nil, fmt.Errorf("dlq: list %s: the directory does not exist (the collector creates <data_dir>/dlq at start): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: list %s: %w", dir, err)
	}
	out := []Entry{}
	times := map[string]int64{}
	for _, e := range entries {
		id, s, ok := splitName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // delivered or moved since the listing
		}
		ent := Entry{Name: e.Name(), State: s, Bytes: int64(len(data))}
		ms, _ := idTime(id)
		times[e.Name()] = ms
		if err != nil {
			ent.Problem = err.Error()
		} else if b, derr := decodeFile(data); derr == nil {
			ent.fill(&b.Header)
		} else {
			ent.Problem = derr.Error()
			// Best effort: a torn file usually still has its header line.
			var h Header
			if line, _, found := bytes.Cut(data, []byte{'\n'}); found && json.Unmarshal(line, &h) == nil && h.Format == formatName {
				ent.fill(&h)
			}
		}
		if ent.CreatedAt.IsZero() && ms != 0 {
			ent.CreatedAt = time.UnixMilli(ms).UTC()
		}
		out = append(out, ent)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := times[out[i].Name], times[out[j].Name]
		if a != b {
			return a < b
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func (e *Entry) fill(h *Header) {
	e.Tenant = h.tenant()
	e.Records = h.Records
	e.Failures = h.Failures
	e.Requeues = h.Requeues
	e.CreatedAt = h.CreatedAt
	e.LastAttemptAt = h.LastAttemptAt
	e.LastError = h.LastError
}

// Inspection is one batch file in full. For a damaged file, Damage says what is wrong, Records
// holds the intact records (what Salvage would write back), Lost how many could not be read
// and DamagedLines where the damage is.
type Inspection struct {
	Name         string          `json:"name"`
	State        State           `json:"state"`
	Bytes        int64           `json:"bytes"`
	Header       Header          `json:"header"`
	Records      []record.Record `json:"records"`
	Damage       string          `json:"damage,omitempty"`
	Lost         int             `json:"lost_records,omitempty"`
	DamagedLines []int           `json:"damaged_lines,omitempty"`
}

// Inspect reads the batch file name in dir. name is a file name ("acme_1763862000000_9f2c.dead")
// or a batch id without the state extension, which matches the file in whatever state it is.
// A damaged file is shown with what can be salvaged from it; one from which nothing can be
// (a damaged version 1 file) gives an error wrapping ErrCorrupt.
func Inspect(dir, name string) (*Inspection, error) {
	file, s, err := resolve(dir, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, fmt.Errorf("dlq: inspect %s: %w", file, err)
	}
	b, err := decodeFile(data)
	if err == nil {
		return &Inspection{Name: file, State: s, Bytes: int64(len(data)), Header: b.Header, Records: b.Records}, nil
	}
	sv, serr := salvage(data)
	if serr != nil {
		return nil, fmt.Errorf("dlq: inspect %s: %w (%v)", file, err, serr)
	}
	return &Inspection{Name: file, State: s, Bytes: int64(len(data)), Header: sv.Header, Records: sv.Records,
		Damage: err.Error(), Lost: sv.Lost, DamagedLines: sv.Damaged}, nil
}

// Salvage writes the intact records of the damaged batch file name (a file name or an id) in
// dir back as a new batch, which a running collector delivers at its next scan, and keeps the
// damaged file as .corrupt. It returns the new batch's file name and how many records were
// salvaged and lost. A file that is not damaged is refused (ErrNotDamaged): it needs no
// salvage.
func Salvage(dir, name string) (newName string, salvaged, lost int, err error) {
	file, s, err := resolve(dir, name)
	if err != nil {
		return "", 0, 0, err
	}
	path := filepath.Join(dir, file)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", 0, 0, fmt.Errorf("dlq: salvage %s: %w", file, err)
	}
	if _, err := decodeFile(data); err == nil {
		return "", 0, 0, fmt.Errorf("dlq: salvage %s: %w", file, ErrNotDamaged)
	}
	sv, serr := salvage(data)
	if serr != nil {
		return "", 0, 0, fmt.Errorf("dlq: salvage %s: %w", file, serr)
	}
	id, _, _ := splitName(file)
	if len(sv.Records) > 0 {
		lines, err := encodeRecords(sv.Records)
		if err != nil {
			return "", 0, 0, fmt.Errorf("dlq: salvage %s: %w", file, err)
		}
		now := time.Now()
		out, err := encodeFile(newHeader(sv.Tenant, now, len(lines), fmt.Errorf("salvaged by an operator from %s (%d records lost)", fileName(id, StateCorrupt), sv.Lost)), lines)
		if err != nil {
			return "", 0, 0, fmt.Errorf("dlq: salvage %s: %w", file, err)
		}
		newID := batchID(sv.Tenant, now.UnixMilli(), randomSuffix())
		tmp, err := writeTemp(dir, newID, out)
		if err != nil {
			return "", 0, 0, fmt.Errorf("dlq: salvage %s: %w", file, err)
		}
		newName = fileName(newID, StateBatch)
		if err := os.Rename(tmp, filepath.Join(dir, newName)); err != nil {
			_ = os.Remove(tmp)
			return "", 0, 0, fmt.Errorf("dlq: salvage %s: %w", file, err)
		}
	}
	if s != StateCorrupt {
		if err := os.Rename(path, filepath.Join(dir, fileName(id, StateCorrupt))); err != nil {
			return newName, len(sv.Records), sv.Lost, fmt.Errorf("dlq: salvage %s: set the damaged file aside: %w", file, err)
		}
	}
	return newName, len(sv.Records), sv.Lost, atomicfile.SyncDir(dir)
}

// resolve finds the file of name (a file name or an id) in dir.
func resolve(dir, name string) (string, State, error) {
	if err := checkName(name); err != nil {
		return "", "", err
	}
	if _, s, ok := splitName(name); ok {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", "", fmt.Errorf("%w: %s in %s", ErrNotFound, name, dir)
			}
			return "", "", fmt.Errorf("dlq: %w", err)
		}
		return name, s, nil
	}
	for _, s := range []State{StateBatch, StateProcessing, StateDead, StateCorrupt} {
		file := fileName(name, s)
		if _, err := os.Stat(filepath.Join(dir, file)); err == nil {
			return file, s, nil
		}
	}
	return "", "", fmt.Errorf("%w: %s in %s", ErrNotFound, name, dir)
}

// Requeue gives the dead batch name (a file name or an id) another MaxFailures retries: its
// failure count goes back to 0, its requeue count grows, and it becomes .batch again. The
// header is rewritten atomically before the rename, so a crash in between leaves a .dead
// file with a fresh count, never a lost batch. It returns the new file name. A running
// collector picks it up at its next scan.
func Requeue(dir, name string) (string, error) {
	file, s, err := resolve(dir, name)
	if err != nil {
		return "", err
	}
	if s != StateDead {
		return "", fmt.Errorf("dlq: requeue %s: %w (state %s)", file, ErrNotDead, s)
	}
	id, _, _ := splitName(file)
	path := filepath.Join(dir, file)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("dlq: requeue %s: %w", file, err)
	}
	b, err := decodeFile(data)
	if err != nil {
		return "", fmt.Errorf("dlq: requeue %s: %w", file, err)
	}
	h := b.Header
	h.Failures = 0
	h.Requeues++
	newData, err := encodeFile(h, b.lines)
	if err != nil {
		return "", fmt.Errorf("dlq: requeue %s: %w", file, err)
	}
	if err := replaceFile(dir, id, path, newData); err != nil {
		return "", fmt.Errorf("dlq: requeue %s: %w", file, err)
	}
	target := fileName(id, StateBatch)
	if err := os.Rename(path, filepath.Join(dir, target)); err != nil {
		return "", fmt.Errorf("dlq: requeue %s: %w", file, err)
	}
	return target, atomicfile.SyncDir(dir)
}

// RequeueAllDead requeues every dead batch in dir and returns the new file names. It stops at
// the first error, returning the names requeued before it.
func RequeueAllDead(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dlq: requeue all dead in %s: %w", dir, err)
	}
	done := []string{}
	for _, e := range entries {
		if _, s, ok := splitName(e.Name()); !ok || s != StateDead || !e.Type().IsRegular() {
			continue
		}
		name, err := Requeue(dir, e.Name())
		if err != nil {
			return done, err
		}
		done = append(done, name)
	}
	return done, nil
}
