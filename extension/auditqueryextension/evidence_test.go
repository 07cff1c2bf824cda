package auditqueryextension

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chainexport"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/sharedstore"
)

// An admin downloads a tenant's evidence as a tar archive that verifies on its own; a viewer
// may not, and a tenant without a chain is a 404.
func TestExport_AnAdminDownloadsAnArchiveThatVerifies(t *testing.T) {
	dir := t.TempDir()
	priv, pubPEM, err := chain.GenerateKey()
	require.NoError(t, err)
	keyFile := filepath.Join(dir, "signing-key.pem")
	require.NoError(t, os.WriteFile(keyFile, priv, 0o600))
	cfg := sharedstore.DefaultConfig()
	cfg.SQLite.Path = filepath.Join(dir, "audit.db")
	cfg.Retention.Enabled = false
	cfg.TamperEvidence.SigningKeyFile = keyFile
	cfg.TamperEvidence.CheckpointEveryRecords = 5
	s := sharedstore.New(cfg, zap.NewNop())
	require.NoError(t, s.Start(context.Background(), nil))
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	recs := make([]record.Record, 5)
	for i := range recs {
		recs[i] = record.Record{ID: record.NewID(), Timestamp: time.Now(), Level: record.LevelInfo, Message: "m"}
	}
	_, err = s.Insert(context.Background(), "acme", recs)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		rep, err := s.VerifyChain(context.Background(), "acme", chain.Range{})
		return err == nil && rep.SignedThrough == 5
	}, 5*time.Second, 10*time.Millisecond, "a signed checkpoint of the 5 records")

	slot := &backendSlot{}
	require.NoError(t, slot.register(backendOf(s)))
	h := newAPI(zap.NewNop(), slot, apiSettings{authConfigured: true, queryTimeout: time.Minute})

	resp := serve(h, http.MethodGet, exportPath+"?tenant=acme", authData{"subject": "root", "role": "admin"})
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	assert.Equal(t, "application/x-tar", resp.header.Get("Content-Type"))
	out := t.TempDir()
	untar(t, resp.body, out)
	x, err := chainexport.Read(filepath.Join(out, "export"))
	require.NoError(t, err)
	pub, err := chain.ParsePublicKeyPEM(pubPEM)
	require.NoError(t, err)
	rep, err := x.Verify(chain.NewKeyring(pub))
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep.FirstBroken)
	assert.Equal(t, 5, rep.Records)
	assert.Equal(t, uint64(5), rep.SignedThrough, "the export's checkpoint is signed by the configured key")
	assert.Contains(t, x.Keys, chain.KeyID(pub), "the archive carries the public key")

	resp = serve(h, http.MethodGet, exportPath+"?tenant=acme", viewerOf("acme"))
	assert.Equal(t, http.StatusForbidden, resp.status, "a viewer: %s", resp.body)
	resp = serve(h, http.MethodGet, exportPath+"?tenant=nobody", authData{"subject": "root", "role": "admin"})
	assert.Equal(t, http.StatusNotFound, resp.status, "a tenant without a chain: %s", resp.body)
	resp = serve(h, http.MethodGet, exportPath, authData{"subject": "root", "role": "admin"})
	assert.Equal(t, http.StatusBadRequest, resp.status, "no tenant: %s", resp.body)
}

func untar(t *testing.T, archive []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err)
		path := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o750))
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o640))
	}
}
