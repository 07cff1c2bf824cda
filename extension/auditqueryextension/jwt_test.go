package auditqueryextension

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-audit/otelcol-audit/extension/auditqueryextension/internal/metadata"
)

const (
	testSecret   = "test-secret-0123456789abcdef0123456789"
	testIssuer   = "https://idp.test"
	testAudience = "audit-api"
)

func extensionSettings() extension.Settings { return extensiontest.NewNopSettings(metadata.Type) }

// useJWT turns on the built-in HS256 check with the test secret.
func useJWT(t *testing.T, c *Config) {
	t.Helper()
	j := c.JWT.GetOrInsertDefault()
	j.Secret = configopaque.String(testSecret)
	j.Issuer = testIssuer
	j.Audience = testAudience
}

func claims(sub, tenant, role string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": sub, "iss": testIssuer, "aud": testAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if tenant != "" {
		c["tenant"] = tenant
	}
	if role != "" {
		c["role"] = role
	}
	return c
}

func viewerClaims(sub, tenant string) jwt.MapClaims { return claims(sub, tenant, "viewer") }
func adminClaims(sub string) jwt.MapClaims          { return claims(sub, "", "admin") }

func sign(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	require.NoError(t, err)
	return s
}

func TestJWT_TheBuiltInCheckDecidesWhoCallsAndWhatTheySee(t *testing.T) {
	s := startLive(t, func(c *Config) { useJWT(t, c) })
	expired := viewerClaims("alice", "acme")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	notYet := viewerClaims("alice", "acme")
	notYet["nbf"] = time.Now().Add(time.Hour).Unix()
	wrongAud := viewerClaims("alice", "acme")
	wrongAud["aud"] = "billing"
	wrongIss := viewerClaims("alice", "acme")
	wrongIss["iss"] = "https://other.test"
	wrongKey, err := jwt.NewWithClaims(jwt.SigningMethodHS256, viewerClaims("alice", "acme")).SignedString([]byte("another-secret-0123456789abcdef0123"))
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, adminClaims("mallory")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	tests := []struct {
		name    string
		target  string
		header  http.Header
		status  int
		wantIDs []string
	}{
		{"a request without a token is 401", logsPath, nil, http.StatusUnauthorized, nil},
		{"a non-bearer Authorization is 401", logsPath, http.Header{"Authorization": {"Basic YTpi"}}, http.StatusUnauthorized, nil},
		{"an expired token is 401", logsPath, bearerHeader(sign(t, expired)), http.StatusUnauthorized, nil},
		{"a token not valid yet is 401", logsPath, bearerHeader(sign(t, notYet)), http.StatusUnauthorized, nil},
		{"a token for another audience is 401", logsPath, bearerHeader(sign(t, wrongAud)), http.StatusUnauthorized, nil},
		{"a token from another issuer is 401", logsPath, bearerHeader(sign(t, wrongIss)), http.StatusUnauthorized, nil},
		{"a token signed with another key is 401", logsPath, bearerHeader(wrongKey), http.StatusUnauthorized, nil},
		{"an unsigned alg none token is 401", logsPath, bearerHeader(none), http.StatusUnauthorized, nil},
		{"access_token is not read outside the stream", logsPath + "?access_token=" + sign(t, adminClaims("root")), nil, http.StatusUnauthorized, nil},
		{"a viewer without a tenant is 403", logsPath, bearerHeader(sign(t, viewerClaims("alice", ""))), http.StatusForbidden, nil},
		{"a token with no role is a viewer, and without tenant 403", logsPath, bearerHeader(sign(t, claims("alice", "", ""))), http.StatusForbidden, nil},
		{"an unknown role is a viewer, never more", logsPath, bearerHeader(sign(t, claims("alice", "", "superuser"))), http.StatusForbidden, nil},
		{"a viewer sees its tenant only", logsPath, bearerHeader(sign(t, viewerClaims("alice", "globex"))), http.StatusOK, []string{"g2", "g1"}},
		{"a viewer asking for another tenant is 403", logsPath + "?tenant=acme", bearerHeader(sign(t, viewerClaims("alice", "globex"))), http.StatusForbidden, nil},
		{"an admin sees every tenant", logsPath, bearerHeader(sign(t, adminClaims("root"))), http.StatusOK, []string{"g2", "a4", "a3", "g1", "a2", "a1"}},
		{"health needs a token too", healthPath, nil, http.StatusUnauthorized, nil},
		{"the viewer page is public", "/", nil, http.StatusOK, nil},
		{"the OpenAPI document is public", openAPIPath, nil, http.StatusOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := httpGet(t, s.base+tt.target, tt.header)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.body)
			if tt.status == http.StatusUnauthorized {
				assert.Equal(t, codeUnauthenticated, resp.apiError(t).Error.Code)
				assert.Contains(t, resp.header.Get("WWW-Authenticate"), "Bearer")
			}
			if tt.wantIDs != nil {
				var body listBody
				resp.decode(t, &body)
				assert.Equal(t, tt.wantIDs, s.f.names(body.ids()))
			}
		})
	}
}

func TestJWT_RS256KeysComeFromAJWKSFileAndHS256IsThenRefused(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	set, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, set, 0o600))

	s := startLive(t, func(c *Config) {
		j := c.JWT.GetOrInsertDefault()
		j.JWKSFile = path
		j.Audience = testAudience
	})
	rs := jwt.NewWithClaims(jwt.SigningMethodRS256, viewerClaims("alice", "acme"))
	rs.Header["kid"] = "k1"
	good, err := rs.SignedString(key)
	require.NoError(t, err)
	resp := httpGet(t, s.base+logsPath, bearerHeader(good))
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	var body listBody
	resp.decode(t, &body)
	assert.Equal(t, []string{"a4", "a3", "a2", "a1"}, s.f.names(body.ids()))

	// The classic confusion: the RSA public key, which is public, used as an HMAC secret.
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	confused, err := jwt.NewWithClaims(jwt.SigningMethodHS256, adminClaims("mallory")).SignedString(pub)
	require.NoError(t, err)
	resp = httpGet(t, s.base+logsPath, bearerHeader(confused))
	assert.Equal(t, http.StatusUnauthorized, resp.status, "body: %s", resp.body)
}

func TestJWT_StartFailsOnUnreadableKeyMaterial(t *testing.T) {
	cfg := loopbackConfig()
	cfg.JWT.GetOrInsertDefault().JWKSFile = filepath.Join(t.TempDir(), "missing.json")
	require.NoError(t, cfg.Validate(), "files are read at Start, not in Validate")
	ext := newQueryExtension(cfg, extensionSettings())
	err := ext.Start(t.Context(), storeHost(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "jwt: read jwks_file")
	require.NoError(t, ext.Shutdown(t.Context()))
}
