package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

const (
	algRS256 = "RS256"
	algES256 = "ES256"
)

// minRSABits refuses keys that are too weak to trust for an audit trail.
const minRSABits = 2048

// jwk is the subset of RFC 7517/7518 fields we read.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

type publicKey struct {
	kid string
	alg string
	key any // *rsa.PublicKey or *ecdsa.PublicKey
}

type keySet []publicKey

func (s keySet) has(alg string) bool {
	for _, k := range s {
		if k.alg == alg {
			return true
		}
	}
	return false
}

// find returns the key for alg named kid. A token without kid is accepted only when exactly one
// key of that algorithm exists, so that it can never be checked against a key chosen by chance.
func (s keySet) find(alg, kid string) (any, error) {
	var found []publicKey
	for _, k := range s {
		if k.alg == alg && (kid == "" || k.kid == kid) {
			found = append(found, k)
		}
	}
	switch {
	case len(found) == 1:
		return found[0].key, nil
	case len(found) == 0 && kid != "":
		return nil, fmt.Errorf("no %s key with kid %q", alg, kid)
	case len(found) == 0:
		return nil, fmt.Errorf("no %s key", alg)
	}
	return nil, fmt.Errorf("the token has no kid and %d %s keys are configured", len(found), alg)
}

// parseJWKS reads the signing keys of a key set. Encryption keys and keys for algorithms this
// API does not accept are skipped; a malformed key is an error, since it is likely the one the
// operator meant to use.
func parseJWKS(data []byte) (keySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	var out keySet
	for i, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pk, ok, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("keys[%d] (kid %q): %w", i, k.Kid, err)
		}
		if ok {
			out = append(out, pk)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no RS256 or ES256 signing key")
	}
	return out, nil
}

func (k jwk) publicKey() (publicKey, bool, error) {
	switch k.Kty {
	case "RSA":
		if k.Alg != "" && k.Alg != algRS256 {
			return publicKey{}, false, nil
		}
		n, err := b64int(k.N)
		if err != nil {
			return publicKey{}, false, fmt.Errorf("n: %w", err)
		}
		e, err := b64int(k.E)
		if err != nil {
			return publicKey{}, false, fmt.Errorf("e: %w", err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return publicKey{}, false, errors.New("e: unusable RSA exponent")
		}
		if n.BitLen() < minRSABits {
			return publicKey{}, false, fmt.Errorf("n: %d-bit RSA key, at least %d bits are required", n.BitLen(), minRSABits)
		}
		return publicKey{kid: k.Kid, alg: algRS256, key: &rsa.PublicKey{N: n, E: int(e.Int64())}}, true, nil
	case "EC":
		if (k.Alg != "" && k.Alg != algES256) || k.Crv != "P-256" {
			return publicKey{}, false, nil
		}
		x, err := b64int(k.X)
		if err != nil {
			return publicKey{}, false, fmt.Errorf("x: %w", err)
		}
		y, err := b64int(k.Y)
		if err != nil {
			return publicKey{}, false, fmt.Errorf("y: %w", err)
		}
		// Refuse points off the curve: verifying with such a key is a known attack.
		point := append([]byte{4}, append(pad32(x.Bytes()), pad32(y.Bytes())...)...)
		key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return publicKey{}, false, fmt.Errorf("x, y: %w", err)
		}
		return publicKey{kid: k.Kid, alg: algES256, key: key}, true, nil
	}
	return publicKey{}, false, nil
}

func b64int(s string) (*big.Int, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	return new(big.Int).SetBytes(b), nil
}

func pad32(b []byte) []byte {
	if len(b) >= 32 {
		return b
	}
	return append(make([]byte, 32-len(b)), b...)
}
