package auditqueryextension

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// A SQLite store on a full filesystem (a tmpfs another user of the disk filled, as in
// tests/faults) still serves reads: health answers 200 with the store "full" and the status
// degraded, and "ok" again once space is back.
func TestHealth_SaysTheStoreIsFullOnAFullFilesystem(t *testing.T) {
	dir := mountSmallTmpfs(t, "8m")
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	s, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	h := testAPI(t, s, nil, false)
	var body healthBody
	get(h, healthPath).decode(t, &body)
	require.Equal(t, "ok", body.Store, "before the disk fills: %+v", body)

	ballast := fillFilesystem(t, dir)
	recs := make([]record.Record, 50)
	for i := range recs {
		recs[i] = record.Record{ID: record.NewID(), TenantID: "acme", Timestamp: fixtureBase, Level: record.LevelInfo, Message: strings.Repeat("m", 8192)}
	}
	_, err = s.Insert(context.Background(), "acme", recs)
	require.Error(t, err, "Insert on a full filesystem")

	resp := get(h, healthPath)
	require.Equal(t, http.StatusOK, resp.status, "records are still readable; body: %s", resp.body)
	resp.decode(t, &body)
	assert.Equal(t, "full", body.Store, "body: %s", resp.body)
	assert.Equal(t, "degraded", body.Status)
	assert.Contains(t, body.StoreError, dir, "the admin is told which filesystem is full")
	assert.Equal(t, http.StatusOK, get(h, logsPath).status, "reads still work")

	require.NoError(t, os.Remove(ballast))
	_, err = s.Insert(context.Background(), "acme", recs[:1])
	require.NoError(t, err, "Insert once space is back")
	body = healthBody{}
	get(h, healthPath).decode(t, &body)
	assert.Equal(t, "ok", body.Store, "after space came back and a write succeeded")
	assert.Empty(t, body.StoreError)
}

// mountSmallTmpfs mounts a tmpfs of size; without the privilege it skips locally and fails
// under CI, as tests/faults does.
func mountSmallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	require.NoError(t, os.Mkdir(dir, 0o700))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN): %v", err)
		}
		t.Skipf("cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN): %v (under CI this fails)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fillFilesystem writes a ballast file until ENOSPC and returns its path.
func fillFilesystem(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); errors.Is(err, syscall.ENOSPC) {
			return path
		} else {
			require.NoError(t, err, "write ballast")
		}
	}
}
