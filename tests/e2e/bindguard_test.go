package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/collectortest"
)

// The core otlp receiver on every interface without auth used to start without a word; the
// distribution's converter refuses it before any port is opened, naming the listener and the
// opt-out.
func TestBindGuard_OTLPOnAllInterfacesWithoutAuthIsRefusedAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector binary; skipped with -short")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
extensions:
  auditstore:
    sqlite:
      path: %[3]s
receivers:
  otlp:
    protocols:
      http:
        endpoint: 0.0.0.0:%[1]d
exporters:
  audit:
    data_dir: %[2]s
service:
  extensions: [auditstore]
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [audit]
  telemetry:
    metrics:
      level: none
`, collectortest.FreePort(t), dir, filepath.Join(dir, "audit.db"))
	proc := collectortest.Start(t, cfg)
	code := proc.Wait(t, 60*time.Second)
	require.NotZero(t, code, "the collector exited 0; want a refusal\n%s", proc.Output.String())
	out := proc.Output.String()
	for _, want := range []string{"receivers::otlp::protocols::http", "listens beyond loopback without authentication", "allow_unauthenticated: true"} {
		assert.Contains(t, out, want, "the refusal does not say %q", want)
	}
}
