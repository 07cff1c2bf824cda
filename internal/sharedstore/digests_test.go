package sharedstore

import (
	"context"
	"crypto/ed25519"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chaindigest"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// digestReceiver is a real HTTP receiver that refuses its first refuse requests.
type digestReceiver struct {
	mu       sync.Mutex
	refuse   int
	received [][]byte
}

func (d *digestReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refuse > 0 {
		d.refuse--
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/json" {
		d.received = append(d.received, body)
	}
}

func (d *digestReceiver) bodies() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.received...)
}

// The collector delivers every checkpoint it signs, as digests, to the directory and to the
// webhook; a receiver that was down gets the digests it missed, in order; and the API's
// verify checks the store against the directory.
func TestDigests_DeliveredToTheDirectoryAndTheWebhookAndVerified(t *testing.T) {
	recv := &digestReceiver{refuse: 1}
	srv := httptest.NewServer(recv)
	defer srv.Close()

	cfg := testConfig(t)
	dir := filepath.Dir(cfg.SQLite.Path)
	var pub ed25519.PublicKey
	cfg.TamperEvidence.SigningKeyFile, pub = signingKey(t, dir)
	cfg.TamperEvidence.CheckpointEveryRecords = 10
	cfg.TamperEvidence.CheckpointInterval = time.Hour
	cfg.TamperEvidence.Digests.Directory = filepath.Join(dir, "digests")
	cfg.TamperEvidence.Digests.Period = 20 * time.Millisecond
	wh := confighttp.NewDefaultClientConfig()
	wh.Endpoint = srv.URL
	wh.Timeout = 5 * time.Second
	cfg.TamperEvidence.Digests.Webhook = configoptional.Some(wh)
	s := New(cfg, nopLogger)
	require.NoError(t, s.Start(context.Background(), nil))

	for range 3 {
		insert(t, s, "acme", events(10, "acme", record.LevelInfo, time.Now()))
		// Each batch's checkpoint in its own period, so each makes a digest.
		before := len(filesOf(t, cfg.TamperEvidence.Digests.Directory))
		require.Eventually(t, func() bool { return len(filesOf(t, cfg.TamperEvidence.Digests.Directory)) > before },
			5*time.Second, 5*time.Millisecond, "a digest for the batch's checkpoint")
	}
	rep, err := s.VerifyChain(context.Background(), "acme", chain.Range{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%+v", rep.FirstBroken)
	assert.Equal(t, uint64(30), rep.DigestedThrough, "the digests pin the whole chain")
	require.NoError(t, s.Shutdown(context.Background()))

	files := filesOf(t, cfg.TamperEvidence.Digests.Directory)
	cps, brk, err := chaindigest.Chain("acme", files)
	require.NoError(t, err)
	require.Nil(t, brk, "the directory's digests form an unbroken chain: %+v", brk)
	require.Len(t, cps, 3, "every checkpoint is in a digest")
	for _, cp := range cps {
		assert.NoError(t, cp.VerifySignature(pub), "digest checkpoint at seq %d", cp.Seq)
	}
	// The receiver refused the first digest; it got it again before the second.
	got := recv.bodies()
	require.Len(t, got, len(files), "the webhook received every digest")
	for i := range files {
		assert.Equal(t, string(files[i].Data), string(got[i]), "digest %d: the webhook and the directory hold the same bytes, in order", i+1)
	}
}

func filesOf(t *testing.T, dir string) []chaindigest.File {
	t.Helper()
	files, err := chaindigest.ReadFiles(dir, "acme")
	require.NoError(t, err)
	return files
}

func TestDigests_ConfigErrorsNameTheField(t *testing.T) {
	cfg := DefaultConfig()
	wh := confighttp.NewDefaultClientConfig()
	wh.Endpoint = "ftp://x"
	cfg.TamperEvidence.Digests.Webhook = configoptional.Some(wh)
	cfg.TamperEvidence.Digests.Period = 0
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tamper_evidence.digests.webhook.endpoint")
	assert.Contains(t, err.Error(), "tamper_evidence.digests.period")
}

func TestDigests_ConfigReadsTheDirectoryAndTheWebhook(t *testing.T) {
	cfg := DefaultConfig()
	conf := confmap.NewFromStringMap(map[string]any{"tamper_evidence": map[string]any{"digests": map[string]any{
		"directory": "/var/lib/digests",
		"webhook":   map[string]any{"endpoint": "https://evidence.example/digests", "timeout": "3s"},
	}}})
	require.NoError(t, conf.Unmarshal(&cfg))
	require.NoError(t, cfg.Validate())
	d := cfg.TamperEvidence.Digests
	assert.Equal(t, "/var/lib/digests", d.Directory)
	assert.Equal(t, time.Minute, d.Period, "the default period")
	require.True(t, d.Webhook.HasValue())
	assert.Equal(t, "https://evidence.example/digests", d.Webhook.Get().Endpoint)
	assert.Equal(t, 3*time.Second, d.Webhook.Get().Timeout)
	assert.False(t, DefaultConfig().TamperEvidence.Digests.Webhook.HasValue(), "no webhook by default")
}
