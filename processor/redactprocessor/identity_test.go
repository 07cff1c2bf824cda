package redactprocessor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// githubLikeToken builds a value the token rules take for a GitHub token, at run time so that
// no credential-looking literal sits in the source.
func githubLikeToken(i int) string {
	return "ghp" + "_" + strings.Repeat(string(rune('a'+i)), 20) + "0123456789ABCDEF"
}

func identityRequest(ids []string, tenant string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", tenant)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, id := range ids {
		lr := lrs.AppendEmpty()
		lr.Attributes().PutStr("audit.id", id)
		lr.Attributes().PutStr("tenant.id", tenant)
		lr.Attributes().PutStr("note", "id "+id)
	}
	return ld
}

func processedIdentity(t *testing.T, cfg *Config, ld plog.Logs) (ids []string, recordTenants []string, resourceTenant string, notes []string) {
	t.Helper()
	p, sink := newLogsProcessor(t, cfg)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	out := sink.AllLogs()[len(sink.AllLogs())-1]
	rl := out.ResourceLogs().At(0)
	v, _ := rl.Resource().Attributes().Get("tenant.id")
	resourceTenant = v.Str()
	lrs := rl.ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		a := lrs.At(i).Attributes()
		id, _ := a.Get("audit.id")
		tn, _ := a.Get("tenant.id")
		note, _ := a.Get("note")
		ids, recordTenants, notes = append(ids, id.Str()), append(recordTenants, tn.Str()), append(notes, note.Str())
	}
	return ids, recordTenants, resourceTenant, notes
}

func TestIdentity_SecretLookingIDsStayDistinctAndNeverRaw(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "identity.key")
	cfg := defaultConfig(func(c *Config) { c.IdentityKeyFile = keyFile })
	var raw []string
	for i := range 4 {
		raw = append(raw, githubLikeToken(i))
	}
	tenant := githubLikeToken(9)
	ids, tenants, resTenant, notes := processedIdentity(t, cfg, identityRequest(raw, tenant))

	seen := map[string]bool{}
	for i, id := range ids {
		const msg = "audit.id %d = %q: want a digest, never the raw value nor a shared marker"
		assert.NotContains(t, id, "ghp_", msg, i, id)
		assert.True(t, strings.HasPrefix(id, identityDigestPrefix), msg, i, id)
		seen[id] = true
		assert.NotContains(t, notes[i], "ghp_", "an ordinary attribute kept the raw token: %q", notes[i])
	}
	require.Len(t, seen, len(raw), "%d different secret-looking ids became %d ids: records would merge", len(raw), len(seen))
	const tenantMsg = "tenant.id became %q on the record and %q on the resource: want one digest for both"
	assert.Equal(t, resTenant, tenants[0], tenantMsg, tenants[0], resTenant)
	assert.True(t, strings.HasPrefix(resTenant, identityDigestPrefix), tenantMsg, tenants[0], resTenant)
	assert.NotContains(t, resTenant, "ghp_", tenantMsg, tenants[0], resTenant)

	// A resend, even by a restarted collector with the same key file, gets the same ids.
	again, _, _, _ := processedIdentity(t, cfg, identityRequest(raw, tenant))
	assert.Equal(t, ids, again, "the same ids digested twice differ:\n%v\n%v", ids, again)
	st, err := os.Stat(keyFile)
	require.NoError(t, err, "identity key file: want it created with mode 0600")
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "identity key file: %v; want it created with mode 0600", st)
	assert.NotZero(t, st.Size(), "identity key file: %v; want it created with mode 0600", st)
}

func TestIdentity_PlainIDsAreLeftAlone(t *testing.T) {
	cfg := defaultConfig(func(c *Config) { c.IdentityKeyFile = filepath.Join(t.TempDir(), "k") })
	plain := []string{"order-42", "0190a8b2-7c1d-7e55-9b1a-6c3f2d1e0a99"}
	ids, tenants, _, _ := processedIdentity(t, cfg, identityRequest(plain, "acme"))
	assert.Equal(t, plain, ids, "plain identities were rewritten: ids %v, tenant %q", ids, tenants[0])
	assert.Equal(t, "acme", tenants[0], "plain identities were rewritten: ids %v, tenant %q", ids, tenants[0])
}
