package auditqueryextension

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
)

// A single SQLite writer has nothing to follow: by default the stream carries its own commits,
// and no follower runs.
func TestFollowStore_IsOffByDefaultOverSQLite(t *testing.T) {
	qe := startExtension(t, loopbackConfig(), storeHost(t))
	assert.Nil(t, qe.stopFollow, "a follower runs over a store that cannot list its insertions")
}

// Asking for it over a store that cannot be followed fails at Start with the setting's name,
// rather than leaving a fleet's tail silently partial.
func TestFollowStore_RequiredOverSQLiteFailsAtStart(t *testing.T) {
	cfg := loopbackConfig()
	on := true
	cfg.Stream.FollowStore.Enabled = &on
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), storeHost(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stream.follow_store.enabled")
	assert.NoError(t, ext.Shutdown(context.Background()))
}
