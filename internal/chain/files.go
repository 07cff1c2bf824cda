package chain

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
)

// Checkpoint files keep the signed heads outside the database, where someone who can write
// the database may not reach: <dir>/<tenant, path-escaped>/<seq, 20 digits>-<kind>.json, one
// JSON document (Checkpoint's MarshalJSON) per file, written atomically and fsynced.

// WriteCheckpointFile writes cp under dir.
func WriteCheckpointFile(dir string, cp Checkpoint) error {
	tenantDir := filepath.Join(dir, url.PathEscape(cp.Tenant))
	if err := os.MkdirAll(tenantDir, 0o750); err != nil {
		return fmt.Errorf("chain: checkpoint file: %w", err)
	}
	doc, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("chain: checkpoint file: %w", err)
	}
	name := filepath.Join(tenantDir, fmt.Sprintf("%020d-%d-%s.json", cp.Seq, cp.Time.UnixNano(), cp.Kind))
	// Evidence kept outside the database must survive a power loss like the records it covers.
	if err := atomicfile.Replace(name, append(doc, '\n'), 0o640); err != nil {
		return fmt.Errorf("chain: checkpoint file: %w", err)
	}
	return nil
}

// ReadCheckpointFiles reads the tenant's checkpoint files under dir; none is not an error.
func ReadCheckpointFiles(dir, tenant string) ([]Checkpoint, error) {
	tenantDir := filepath.Join(dir, url.PathEscape(tenant))
	entries, err := os.ReadDir(tenantDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chain: checkpoint files: %w", err)
	}
	var out []Checkpoint
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(tenantDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("chain: checkpoint files: %w", err)
		}
		var cp Checkpoint
		if err := json.Unmarshal(data, &cp); err != nil {
			return nil, fmt.Errorf("chain: checkpoint file %s: %w", e.Name(), err)
		}
		if cp.Tenant != tenant {
			return nil, fmt.Errorf("chain: checkpoint file %s: tenant %q in the directory of %q", e.Name(), cp.Tenant, tenant)
		}
		out = append(out, cp)
	}
	return out, nil
}

// WithCheckpoints returns src with extra checkpoints (from files) added to the stored ones, so
// that deleting checkpoints from the database does not remove what they pin.
func WithCheckpoints(src Source, extra []Checkpoint) Source {
	return extraCheckpoints{Source: src, extra: extra}
}

type extraCheckpoints struct {
	Source
	extra []Checkpoint
}

// UnchainedSince forwards to the wrapped source, or looks at every record when it cannot.
func (x extraCheckpoints) UnchainedSince(ctx context.Context, tenant string, after int64, limit int) ([]string, int64, error) {
	if us, ok := x.Source.(UnchainedSinceSource); ok {
		return us.UnchainedSince(ctx, tenant, after, limit)
	}
	ids, err := x.Source.Unchained(ctx, tenant, limit)
	return ids, 0, err
}

func (x extraCheckpoints) Checkpoints(ctx context.Context, tenant string) ([]Checkpoint, error) {
	stored, err := x.Source.Checkpoints(ctx, tenant)
	if err != nil {
		return nil, err
	}
	all := append(slices.Clone(stored), x.extra...)
	slices.SortStableFunc(all, func(a, b Checkpoint) int {
		if a.Seq != b.Seq {
			return cmp.Compare(a.Seq, b.Seq)
		}
		return a.Time.Compare(b.Time)
	})
	// The same checkpoint in both places counts once.
	return slices.CompactFunc(all, func(a, b Checkpoint) bool {
		return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.Head == b.Head && a.Kind == b.Kind
	}), nil
}
