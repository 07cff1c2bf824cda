// Package jwtauth verifies the bearer tokens of the query API: HS256 with a shared secret,
// RS256 and ES256 with the public keys of a JWKS file. Only the algorithms for which a key is
// configured are accepted, which is what rules out "alg: none" and the HS256/RS256 confusion
// (a token signed with an RSA public key used as an HMAC secret).
package jwtauth

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest accepted HS256 secret: RFC 7518 section 3.2 asks for a key at
// least as long as the hash output (256 bits).
const MinSecretLen = 32

// Options say which tokens are valid.
type Options struct {
	// Secret is the HS256 key. SecretFile, when set, is read instead (surrounding whitespace,
	// such as the trailing newline of a file written by a shell, is trimmed).
	Secret     []byte
	SecretFile string
	// JWKSFile holds the RS256/ES256 public keys as a JSON Web Key Set.
	JWKSFile string
	// Issuer and Audience, when set, must equal the token's iss and be among its aud.
	Issuer   string
	Audience string
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	hmacKey []byte
	keys    keySet
	parser  *jwt.Parser
}

// New reads the key material and builds a verifier. It fails when no key is configured, when a
// secret is shorter than MinSecretLen, or when a file cannot be read or holds no usable key.
func New(opts Options) (*Verifier, error) {
	v := &Verifier{hmacKey: opts.Secret}
	if opts.SecretFile != "" {
		b, err := os.ReadFile(opts.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: read secret_file: %w", err)
		}
		v.hmacKey = []byte(strings.TrimSpace(string(b)))
	}
	if v.hmacKey != nil && len(v.hmacKey) < MinSecretLen {
		return nil, fmt.Errorf("jwt: secret: %d bytes is too short for HS256; use at least %d", len(v.hmacKey), MinSecretLen)
	}
	if opts.JWKSFile != "" {
		b, err := os.ReadFile(opts.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: read jwks_file: %w", err)
		}
		if v.keys, err = parseJWKS(b); err != nil {
			return nil, fmt.Errorf("jwt: jwks_file %s: %w", opts.JWKSFile, err)
		}
	}

	var methods []string
	if len(v.hmacKey) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if v.keys.has(algRS256) {
		methods = append(methods, algRS256)
	}
	if v.keys.has(algES256) {
		methods = append(methods, algES256)
	}
	if len(methods) == 0 {
		return nil, errors.New("jwt: no key configured: set secret, secret_file or jwks_file")
	}
	parserOpts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithLeeway(opts.Leeway),
		// A token that never expires is a permanent credential to the audit trail.
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if opts.Issuer != "" {
		parserOpts = append(parserOpts, jwt.WithIssuer(opts.Issuer))
	}
	if opts.Audience != "" {
		parserOpts = append(parserOpts, jwt.WithAudience(opts.Audience))
	}
	v.parser = jwt.NewParser(parserOpts...)
	return v, nil
}

// Verify checks the token's signature and registered claims and returns all its claims.
func (v *Verifier) Verify(token string) (map[string]any, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.key); err != nil {
		return nil, err
	}
	return claims, nil
}

// key picks the verification key for the token's algorithm. The parser has already refused any
// algorithm not in the valid list; the type checks below keep a key of one family from ever
// verifying a token of another.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	// RFC 7515 4.1.11: extensions listed in crit must be understood, or the token rejected.
	// This verifier understands none, so any crit header (even a malformed one) refuses it.
	if crit, ok := t.Header["crit"]; ok {
		return nil, fmt.Errorf("the token's crit header lists extensions this server does not understand: %v", crit)
	}
	kid, _ := t.Header["kid"].(string)
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		if len(v.hmacKey) == 0 {
			return nil, errors.New("no HS256 secret is configured")
		}
		return v.hmacKey, nil
	case *jwt.SigningMethodRSA:
		k, err := v.keys.find(algRS256, kid)
		if err != nil {
			return nil, err
		}
		if _, ok := k.(*rsa.PublicKey); !ok {
			return nil, errors.New("key is not an RSA key")
		}
		return k, nil
	case *jwt.SigningMethodECDSA:
		k, err := v.keys.find(algES256, kid)
		if err != nil {
			return nil, err
		}
		if _, ok := k.(*ecdsa.PublicKey); !ok {
			return nil, errors.New("key is not an EC key")
		}
		return k, nil
	}
	return nil, fmt.Errorf("algorithm %q is not accepted", t.Method.Alg())
}
