package chaindigest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
)

func checkpoint(seq uint64, at time.Time) chain.Checkpoint {
	return chain.Checkpoint{Tenant: "acme", Seq: seq, Head: chain.Hash{byte(seq)}, Time: at, Kind: chain.KindPeriodic}
}

// A digest the directory refuses keeps its checkpoints queued, so the next digest carries them
// and the chain has no gap; one period gives at most one digest; a digest is never replaced.
func TestWriter_KeepsWhatTheDirectoryRefusedAndNeverReplacesADigest(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "digests")
	require.NoError(t, os.WriteFile(path, []byte("not a directory"), 0o600))
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	w := NewWriter(&Dir{Path: path}, nil, time.Minute, t0)
	ctx := context.Background()

	w.Add(checkpoint(10, t0))
	require.Error(t, w.Flush(ctx, t0.Add(time.Minute), false), "the directory cannot be written")
	require.NoError(t, os.Remove(path))
	w.Add(checkpoint(20, t0.Add(time.Minute)))
	require.NoError(t, w.Flush(ctx, t0.Add(90*time.Second), false), "within the period: nothing yet")
	files, err := ReadFiles(path, "acme")
	require.NoError(t, err)
	assert.Empty(t, files, "at most one digest per period")

	require.NoError(t, w.Flush(ctx, t0.Add(2*time.Minute), false))
	files, err = ReadFiles(path, "acme")
	require.NoError(t, err)
	require.Len(t, files, 1)
	cps, brk, err := Chain("acme", files)
	require.NoError(t, err)
	require.Nil(t, brk)
	require.Len(t, cps, 2, "the refused checkpoint is in the first digest delivered")
	assert.Equal(t, uint64(10), cps[0].Seq)

	// A second writer on the same directory continues the chain after its last file.
	w2 := NewWriter(&Dir{Path: path}, nil, time.Minute, t0)
	w2.Add(checkpoint(30, t0.Add(3*time.Minute)))
	require.NoError(t, w2.Flush(ctx, t0.Add(3*time.Minute), true))
	files, err = ReadFiles(path, "acme")
	require.NoError(t, err)
	_, brk, err = Chain("acme", files)
	require.NoError(t, err)
	require.Nil(t, brk, "the chain continues across writers (restarts)")
	require.Len(t, files, 2)

	// The first writer, unaware, would write digest 2 again: refused, never replaced.
	before, err := os.ReadFile(filepath.Join(path, "acme", Name(2)))
	require.NoError(t, err)
	w.Add(checkpoint(40, t0.Add(4*time.Minute)))
	err = w.Flush(ctx, t0.Add(4*time.Minute), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exists")
	after, err := os.ReadFile(filepath.Join(path, "acme", Name(2)))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "digest 2 is not replaced")
}
