package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var secret = []byte("0123456789abcdef0123456789abcdef-hs256")

// keys is one RSA and one EC key pair, published in a JWKS file.
type keys struct {
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	jwksPath string
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newKeys(t *testing.T) keys {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecPoint, err := ek.PublicKey.Bytes() // 0x04 || X || Y
	require.NoError(t, err)
	set := map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": b64(ecPoint[1:33]), "y": b64(ecPoint[33:])},
		{"kty": "RSA", "kid": "enc-1", "use": "enc", "n": "AQAB", "e": "AQAB"},
	}}
	body, err := json.Marshal(set)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, body, 0o600))
	return keys{rsa: rk, ec: ek, jwksPath: path}
}

func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": "alice", "tenant": "acme", "role": "viewer",
		"iss": "https://idp.example.com", "aud": "audit-api",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func with(edit func(jwt.MapClaims)) jwt.MapClaims {
	c := validClaims()
	edit(c)
	return c
}

func sign(t *testing.T, method jwt.SigningMethod, kid string, claims jwt.MapClaims, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestVerifier(t *testing.T) {
	k := newKeys(t)
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	v, err := New(Options{Secret: secret, JWKSFile: k.jwksPath, Issuer: "https://idp.example.com", Audience: "audit-api", Leeway: 30 * time.Second})
	require.NoError(t, err)
	rsOnly, err := New(Options{JWKSFile: k.jwksPath})
	require.NoError(t, err)
	rsaPublicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustMarshalPKIX(t, &k.rsa.PublicKey)})

	noneToken := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		return s
	}
	critToken := func(crit any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
		tok.Header["crit"] = crit
		tok.Header["b64"] = false
		s, err := tok.SignedString(secret)
		require.NoError(t, err)
		return s
	}
	hour := time.Hour
	tests := []struct {
		name     string
		verifier *Verifier
		token    string
		wantErr  error
	}{
		{"an HS256 token signed with the secret is valid", v, sign(t, jwt.SigningMethodHS256, "", validClaims(), secret), nil},
		{"an RS256 token signed with the JWKS key is valid", v, sign(t, jwt.SigningMethodRS256, "rsa-1", validClaims(), k.rsa), nil},
		{"an ES256 token signed with the JWKS key is valid", v, sign(t, jwt.SigningMethodES256, "ec-1", validClaims(), k.ec), nil},
		{"a token without kid uses the only key of its algorithm", v, sign(t, jwt.SigningMethodRS256, "", validClaims(), k.rsa), nil},
		{"a token expired beyond the leeway is refused", v, sign(t, jwt.SigningMethodHS256, "", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), secret), jwt.ErrTokenExpired},
		{"a token expired within the leeway is accepted", v, sign(t, jwt.SigningMethodHS256, "", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() }), secret), nil},
		{"a token not valid yet is refused", v, sign(t, jwt.SigningMethodHS256, "", with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(hour).Unix() }), secret), jwt.ErrTokenNotValidYet},
		{"a token without exp is refused", v, sign(t, jwt.SigningMethodHS256, "", with(func(c jwt.MapClaims) { delete(c, "exp") }), secret), jwt.ErrTokenRequiredClaimMissing},
		{"a token for another audience is refused", v, sign(t, jwt.SigningMethodHS256, "", with(func(c jwt.MapClaims) { c["aud"] = "billing-api" }), secret), jwt.ErrTokenInvalidAudience},
		{"a token from another issuer is refused", v, sign(t, jwt.SigningMethodHS256, "", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), secret), jwt.ErrTokenInvalidIssuer},
		{"an HS256 token signed with another secret is refused", v, sign(t, jwt.SigningMethodHS256, "", validClaims(), []byte("another-secret-of-at-least-32-bytes!!")), jwt.ErrTokenSignatureInvalid},
		{"an RS256 token signed with another key is refused", v, sign(t, jwt.SigningMethodRS256, "rsa-1", validClaims(), otherRSA), jwt.ErrTokenSignatureInvalid},
		{"an RS256 token naming an unknown kid is refused", v, sign(t, jwt.SigningMethodRS256, "rsa-2", validClaims(), k.rsa), jwt.ErrTokenUnverifiable},
		{"alg none is refused", v, noneToken(validClaims()), jwt.ErrTokenSignatureInvalid},
		{"an algorithm that is not configured is refused", v, sign(t, jwt.SigningMethodRS384, "rsa-1", validClaims(), k.rsa), jwt.ErrTokenSignatureInvalid},
		{"the RSA public key used as an HS256 secret is refused when only JWKS is configured", rsOnly, sign(t, jwt.SigningMethodHS256, "", validClaims(), rsaPublicPEM), jwt.ErrTokenSignatureInvalid},
		{"the RSA public key used as an HS256 secret is refused beside a configured secret", v, sign(t, jwt.SigningMethodHS256, "rsa-1", validClaims(), rsaPublicPEM), jwt.ErrTokenSignatureInvalid},
		{"garbage is refused", v, "not.a.token", jwt.ErrTokenMalformed},
		// RFC 7515 4.1.11: a recipient that does not understand a critical extension must reject
		// the token, even though its signature is valid.
		{"a token with a critical header extension is refused", v, critToken([]any{"b64"}), jwt.ErrTokenUnverifiable},
		{"a token with a malformed crit header is refused", v, critToken("b64"), jwt.ErrTokenUnverifiable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := tt.verifier.Verify(tt.token)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, "alice", claims["sub"])
				assert.Equal(t, "acme", claims["tenant"])
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func mustMarshalPKIX(t *testing.T, pub any) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return b
}

func TestNew_RefusesUnusableKeyMaterial(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no key at all", Options{}, "jwt: no key configured: set secret, secret_file or jwks_file"},
		{"a short secret", Options{Secret: []byte("short")}, "jwt: secret: 5 bytes is too short for HS256; use at least 32"},
		{"a missing secret_file", Options{SecretFile: filepath.Join(dir, "absent")}, "jwt: read secret_file:"},
		{"a jwks_file that is not JSON", Options{JWKSFile: write("bad.json", "nope")}, "not a JSON Web Key Set"},
		{"a jwks_file without a signing key", Options{JWKSFile: write("empty.json", `{"keys":[]}`)}, "no RS256 or ES256 signing key"},
		{"a jwks_file with a weak RSA key", Options{JWKSFile: write("weak.json", `{"keys":[{"kty":"RSA","kid":"w","n":"AQAB","e":"AQAB"}]}`)}, `keys[0] (kid "w"): n: 17-bit RSA key`},
		{"a jwks_file with an EC point off the curve", Options{JWKSFile: write("off.json", `{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`)}, "x, y:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}

	path := write("secret", string(secret)+"\n")
	v, err := New(Options{SecretFile: path})
	require.NoError(t, err, "secret_file's trailing newline is trimmed")
	_, err = v.Verify(sign(t, jwt.SigningMethodHS256, "", validClaims(), secret))
	assert.NoError(t, err)
}
