//go:build linux || darwin

package sqlitestore

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A partitioned store's health check measures free space once: the base file and its
// partitions share one filesystem, and a health probe runs often.
func TestCheckHealth_PartitionedCallsStatfsOnce(t *testing.T) {
	p := openPartitioned(t, t.TempDir(), 50)
	ctx := context.Background()
	for i := range 3 {
		_, err := p.Insert(ctx, "acme", records(fmt.Sprintf("roll%d", i), 30))
		require.NoError(t, err)
	}
	require.Greater(t, p.partitionCount(), 1)

	var calls int
	real := statfs
	statfs = func(path string, st *syscall.Statfs_t) error { calls++; return real(path, st) }
	t.Cleanup(func() { statfs = real })

	require.NoError(t, p.CheckHealth(ctx))
	assert.Equal(t, 1, calls, "statfs calls per health check")
}
