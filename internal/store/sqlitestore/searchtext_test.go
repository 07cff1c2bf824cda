package sqlitestore

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

func TestDropWords_SkipsOpaqueIdentifiersAndKeepsWhatPeopleSearch(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"a UUID is skipped", "550e8400-e29b-41d4-a716-446655440000", ""},
		{"an uppercase UUID is skipped", "550E8400-E29B-41D4-A716-446655440000", ""},
		{"a UUID inside a sentence is skipped and the sentence kept", "request 550e8400-e29b-41d4-a716-446655440000 failed", "request  failed"},
		{"a 32-digit hex trace id is skipped", "4bf92f3577b34da6a3ce929d0e0e4736", ""},
		{"a 16-digit hex span id is skipped", "00f067aa0ba902b7", ""},
		{"a 15-digit hex string is kept", "00f067aa0ba902b", "00f067aa0ba902b"},
		{"a 16-digit card-like number counts as hex and is skipped", "4111111111111111", ""},
		{"a random base64 token is skipped", "dGhpcyBpcyBhIHJhbmRvbTEyMzQ1Njc4OTA=", ""},
		{"the random part of an API key is skipped and its prefix kept", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_"},
		{"each part of a JWT is skipped", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEyMzQiLCJ0ZW5hbnQiOiJhY21lIn0", "Bearer ."},
		{"words are kept", "password expired", "password expired"},
		{"an email address is kept", "carol@example.com", "carol@example.com"},
		{"a route with a placeholder is kept", "/api/v1/documents/{id}/share", "/api/v1/documents/{id}/share"},
		{"a path with an id is kept", "/api/v1/documents/doc-4242/share/recipients", "/api/v1/documents/doc-4242/share/recipients"},
		{"a URL is kept", "https://example.com/reports/2025/monthly-summary?format=pdf", "https://example.com/reports/2025/monthly-summary?format=pdf"},
		{"a short session code is kept", "s-1a2b3c4d", "s-1a2b3c4d"},
		{"a short code with a dash is kept", "user-42", "user-42"},
		{"a long word ending in a number is kept", "aVeryLongCamelCaseName2", "aVeryLongCamelCaseName2"},
		{"a long snake_case name is kept", "feature_flag_checkout_v2_rollout", "feature_flag_checkout_v2_rollout"},
		{"an IP address is kept", "203.0.113.7", "203.0.113.7"},
		{"a timestamp is kept", "2025-06-01T12:00:00.123456Z", "2025-06-01T12:00:00.123456Z"},
		{"non-ASCII text is kept", "quotes \" and <tags> & ünïcödé", "quotes \" and <tags> & ünïcödé"},
		{"a long word of letters only is kept", "Donaudampfschifffahrtsgesellschaft", "Donaudampfschifffahrtsgesellschaft"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, dropWords(tc.in), "dropWords(%q)", tc.in)
		})
	}
}

func TestSearchText_HoldsStringValuesOnlyFlattenedInKeyOrder(t *testing.T) {
	attrs := map[string]any{
		"z.reason":   "password expired",
		"a.count":    int64(3),
		"b.ratio":    0.25,
		"c.notify":   true,
		"d.trace":    "4bf92f3577b34da6a3ce929d0e0e4736",
		"e.policy":   map[string]any{"rules": []any{"no-download", int64(2), false}, "name": "external"},
		"f.tags":     []string{"alpha", "beta"},
		"g.blank":    "  ",
		"h.opaqueID": "550e8400-e29b-41d4-a716-446655440000",
	}
	want := "external\nno-download\nalpha\nbeta\npassword expired"
	for range 5 { // map order is random; the text must not be
		require.Equal(t, want, searchText(attrs), "searchText")
	}
	assert.Empty(t, searchText(nil), "searchText(nil)")
}

func TestSearchText_IsCappedWithoutCuttingAWord(t *testing.T) {
	attrs := map[string]any{}
	for i := range 200 {
		attrs[string(rune('a'+i%26))+strings.Repeat("k", i)] = "ünïcödé window cleaning subscription"
	}
	got := searchText(attrs)
	require.LessOrEqual(t, len(got), maxSearchText, "len(searchText)")
	assert.GreaterOrEqual(t, len(got), maxSearchText-len("ünïcödé window cleaning subscription")-1,
		"len(searchText): the cap left more room than one value unused")
	words := strings.Fields(got)
	for _, w := range words {
		require.Contains(t, []string{"ünïcödé", "window", "cleaning", "subscription"}, w, "searchText holds %q, a cut word", w)
	}
}

// A record stored by version 2 (attributes indexed as JSON) is found by an attribute word
// after the upgrade to version 3, whose index sees search_text only.
func TestMigrate_Version3KeepsRecordsOfAV2FileSearchableByAttributeValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openRaw(t, path)
	require.NoError(t, migrate(context.Background(), db, migrations[:2]))
	for _, row := range []struct{ id, attrs string }{
		{"v2-expired", `{"reason":"password expired","request.id":"550e8400-e29b-41d4-a716-446655440000","try":{"n":3,"via":["sms gateway"]}}`},
		{"v2-plain", `{}`},
	} {
		_, err := db.Exec(`INSERT INTO audit_logs (id, timestamp, observed_timestamp, level, tenant_id, message, attributes) VALUES (?, 1000, 1000, 2, 'acme', 'login failed', ?)`, row.id, row.attrs)
		require.NoError(t, err)
	}
	_ = db.Close()

	s := openAt(t, path)
	defer s.Close()
	assert.Equal(t, allVersions(), versions(t, s.write), "schema_version")
	_, err := s.write.Exec(`INSERT INTO audit_fts (audit_fts, rank) VALUES ('integrity-check', 1)`)
	assert.NoError(t, err, "FTS5 integrity-check after the upgrade")
	search := func(text string) []string {
		t.Helper()
		res, err := s.Query(context.Background(), store.Filter{TenantID: "acme", Text: text}, store.Page{})
		require.NoErrorf(t, err, "search %q", text)
		var ids []string
		for _, r := range res.Records {
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		return ids
	}
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"expired", []string{"v2-expired"}},
		{`"sms gateway"`, []string{"v2-expired"}},
		{"failed", []string{"v2-expired", "v2-plain"}},
		{"reason", nil},   // a key, no longer indexed
		{"550e8400", nil}, // an opaque id, no longer indexed
	} {
		assert.Equal(t, tc.want, search(tc.text), "after the upgrade, search %q", tc.text)
	}
}
