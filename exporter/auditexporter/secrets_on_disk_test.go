package auditexporter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor"
)

// plantedSecrets are what real applications leak into audit logs; none may reach a file.
var plantedSecrets = map[string]string{
	"password attribute": "hunter2-correct-horse",
	"jwt in a message":   "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
	"card number":        "4111 1111 1111 1111",
	"aws access key id":  "AKIAIOSFODNN7EXAMPLE",
	"github token":       "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
	"url userinfo":       "s3cr3t-pa55",
}

// TestSecretsNeverReachTheWALTheDLQOrTheStore runs the real redact processor in front of the
// real exporter while the store is down, so records pass through every file the write path has:
// the WAL (acknowledgement), the DLQ (after the retries), then SQLite (after recovery).
func TestSecretsNeverReachTheWALTheDLQOrTheStore(t *testing.T) {
	cfg := testConfig(t)
	cfg.RetryOnFailure.InitialInterval = 5 * time.Millisecond
	cfg.RetryOnFailure.MaxInterval = 10 * time.Millisecond
	cfg.RetryOnFailure.MaxElapsedTime = 20 * time.Millisecond
	cfg.DLQ.ScanInterval = time.Hour // files stay in the DLQ until the test kicks it
	var flaky *flakyStore
	e := newTestExporter(t, cfg, func(st store.Store) store.Store {
		flaky = &flakyStore{Store: st}
		flaky.down.Store(true)
		return flaky
	})

	redactFactory := redactprocessor.NewFactory()
	proc, err := redactFactory.CreateLogs(context.Background(), processortest.NewNopSettings(redactFactory.Type()),
		redactFactory.CreateDefaultConfig(), consumerFunc(e.consumeLogs))
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
	defer proc.Shutdown(context.Background())

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName("user.login")
	lr.Body().SetStr("login with token " + plantedSecrets["jwt in a message"] + " from https://ann:" + plantedSecrets["url userinfo"] + "@db.internal/x")
	a := lr.Attributes()
	a.PutStr("user.id", "ann")
	a.PutStr("password", plantedSecrets["password attribute"])
	a.PutStr("payment.note", "paid with "+plantedSecrets["card number"])
	a.PutStr("deploy.log", "using key "+plantedSecrets["aws access key id"])
	a.PutEmptyMap("git").PutStr("remote", "token "+plantedSecrets["github token"])
	require.NoError(t, proc.ConsumeLogs(context.Background(), ld))

	require.Eventually(t, func() bool { return e.dlqStats().Files == 1 }, 20*time.Second, 10*time.Millisecond, "the batch set aside in the DLQ")
	assertNoSecretOnDisk(t, cfg.DataDir, "wal", "dlq")

	flaky.down.Store(false)
	e.dlq.Kick()
	require.Eventually(t, func() bool { return storedCount(flaky.Store) == 1 }, 20*time.Second, 10*time.Millisecond, "the record stored after recovery")
	require.NoError(t, e.shutdown(context.Background()))
	assertNoSecretOnDisk(t, cfg.DataDir, "wal", "audit.db")
}

// assertNoSecretOnDisk reads every file under dir and fails on any planted secret. want names
// entries of dir that must exist, so the check cannot pass on an empty directory.
func assertNoSecretOnDisk(t *testing.T, dir string, want ...string) {
	t.Helper()
	for _, w := range want {
		_, err := os.Stat(filepath.Join(dir, w))
		require.NoError(t, err, "%s is missing: the check would prove nothing", w)
	}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, secret := range plantedSecrets {
			// Not assert.NotContains: it would print the whole (binary) file.
			assert.False(t, strings.Contains(string(b), secret), "%s holds the %s %q", path, name, secret)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotZero(t, files, "no file was read")
}

// consumerFunc lets the exporter's consumeLogs be the redact processor's next consumer.
type consumerFunc func(context.Context, plog.Logs) error

func (f consumerFunc) ConsumeLogs(ctx context.Context, ld plog.Logs) error { return f(ctx, ld) }
func (consumerFunc) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}
