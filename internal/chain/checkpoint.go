package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Checkpoint kinds.
const (
	// KindPeriodic is written every N records or T seconds.
	KindPeriodic = "periodic"
	// KindPrune is written after a retention run: its Cutoffs say which records that run was
	// allowed to remove, so that verify can tell a pruned record from a deleted one.
	KindPrune = "prune"
)

// Checkpoint is a signed statement that the tenant's chain had Head at Seq at Time.
type Checkpoint struct {
	Tenant string
	Seq    uint64
	Head   Hash
	Time   time.Time
	Kind   string
	// Cutoffs, for KindPrune: per level, records with a timestamp before it were expired.
	// A level absent is kept forever.
	Cutoffs map[record.Level]time.Time
	// KeyID names the signing key (KeyID of its public key); empty when unsigned.
	KeyID     string
	Signature []byte
}

// checkpointJSON is the document form of a checkpoint: what stores keep, the API returns and
// checkpoint files hold.
type checkpointJSON struct {
	Tenant    string               `json:"tenant"`
	Seq       uint64               `json:"seq"`
	Head      string               `json:"head"`
	Time      time.Time            `json:"time"`
	Kind      string               `json:"kind"`
	Cutoffs   map[string]time.Time `json:"cutoffs,omitempty"`
	KeyID     string               `json:"key_id,omitempty"`
	Signature []byte               `json:"signature,omitempty"`
}

// MarshalJSON writes the document form (hex head, RFC 3339 times, base64 signature).
func (c Checkpoint) MarshalJSON() ([]byte, error) {
	doc := checkpointJSON{Tenant: c.Tenant, Seq: c.Seq, Head: c.Head.String(), Time: c.Time.UTC(),
		Kind: c.Kind, KeyID: c.KeyID, Signature: c.Signature}
	if len(c.Cutoffs) > 0 {
		doc.Cutoffs = make(map[string]time.Time, len(c.Cutoffs))
		for l, t := range c.Cutoffs {
			doc.Cutoffs[l.String()] = t.UTC()
		}
	}
	return json.Marshal(doc)
}

// UnmarshalJSON reads the document form.
func (c *Checkpoint) UnmarshalJSON(b []byte) error {
	var doc checkpointJSON
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("chain: checkpoint: %w", err)
	}
	head, err := ParseHash(doc.Head)
	if err != nil {
		return err
	}
	*c = Checkpoint{Tenant: doc.Tenant, Seq: doc.Seq, Head: head, Time: doc.Time.UTC(),
		Kind: doc.Kind, KeyID: doc.KeyID, Signature: doc.Signature}
	if len(doc.Cutoffs) > 0 {
		c.Cutoffs = make(map[record.Level]time.Time, len(doc.Cutoffs))
		for name, t := range doc.Cutoffs {
			l, err := record.ParseLevel(name)
			if err != nil {
				return fmt.Errorf("chain: checkpoint cutoffs: %w", err)
			}
			c.Cutoffs[l] = t.UTC()
		}
	}
	return nil
}

// signedPrefix separates checkpoint signatures from any other use of the key.
const signedPrefix = "otelcol-audit checkpoint v1\n"

// SignedBytes is what the signature covers: signedPrefix followed by one line of JSON with
// the keys in this order:
//
//	{"tenant":"acme","seq":42,"head":"<64 hex>","time":<Unix ns>,"kind":"prune",
//	 "cutoffs":{"debug":<Unix ns>,...}}
//
// cutoffs lists levels from debug to security, only those present, and is {} otherwise.
func (c Checkpoint) SignedBytes() []byte {
	var b bytes.Buffer
	b.WriteString(signedPrefix)
	tenant, _ := json.Marshal(c.Tenant)
	fmt.Fprintf(&b, `{"tenant":%s,"seq":%d,"head":"%s","time":%d,"kind":"%s","cutoffs":{`,
		tenant, c.Seq, c.Head, unixNanos(c.Time), c.Kind)
	first := true
	for _, l := range record.Levels {
		cut, ok := c.Cutoffs[l]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, `"%s":%d`, l, unixNanos(cut))
	}
	b.WriteString("}}")
	return b.Bytes()
}

// Same is true when o signs the same bytes as c with the same key and signature: the same
// checkpoint, in whatever form it was read.
func (c Checkpoint) Same(o Checkpoint) bool {
	return bytes.Equal(c.SignedBytes(), o.SignedBytes()) && c.KeyID == o.KeyID && bytes.Equal(c.Signature, o.Signature)
}

// Signer signs checkpoints.
type Signer struct {
	key   ed25519.PrivateKey
	keyID string
}

// NewSigner signs with key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, keyID: KeyID(key.Public().(ed25519.PublicKey))}
}

// Sign fills in KeyID and Signature. A nil Signer leaves the checkpoint unsigned: without a
// key, checkpoints still pin the head against accidental damage, not against an attacker.
func (s *Signer) Sign(c Checkpoint) Checkpoint {
	if s == nil {
		return c
	}
	c.KeyID = s.keyID
	c.Signature = ed25519.Sign(s.key, c.SignedBytes())
	return c
}

// PublicKey is the key verify needs.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID is the first 8 bytes of SHA-256 of the raw public key, in hex: enough to tell keys
// apart after a rotation, not a secret.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// ErrBadSignature is a checkpoint whose signature does not verify with the given key.
var ErrBadSignature = errors.New("signature does not verify")

// VerifySignature checks c against pub.
func (c Checkpoint) VerifySignature(pub ed25519.PublicKey) error {
	if len(c.Signature) == 0 {
		return fmt.Errorf("%w: the checkpoint is not signed", ErrBadSignature)
	}
	if c.KeyID != KeyID(pub) {
		return fmt.Errorf("%w: signed by key %s, verifying with key %s", ErrBadSignature, c.KeyID, KeyID(pub))
	}
	if !ed25519.Verify(pub, c.SignedBytes(), c.Signature) {
		return ErrBadSignature
	}
	return nil
}

// GenerateKey makes a new signing key and returns it and its public key in PEM (PKCS #8 and
// PKIX, the forms openssl reads and writes).
func GenerateKey() (privatePEM, publicPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), nil
}

// LoadPrivateKey reads an Ed25519 private key in PKCS #8 PEM
// (`openssl genpkey -algorithm ed25519`).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	block, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("chain: %s: %w", path, err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("chain: %s: a %T key, want an Ed25519 key", path, key)
	}
	return ed, nil
}

// LoadPublicKey reads an Ed25519 public key in PKIX PEM (`openssl pkey -pubout`).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	block, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(block)
	if err != nil {
		return nil, fmt.Errorf("chain: %s: %w", path, err)
	}
	ed, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("chain: %s: a %T key, want an Ed25519 key", path, key)
	}
	return ed, nil
}

func readPEM(path, wantType string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != wantType {
		return nil, fmt.Errorf("chain: %s: no %q PEM block", path, wantType)
	}
	return block.Bytes, nil
}

// ParsePublicKeyPEM reads an Ed25519 public key in PKIX PEM.
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New(`chain: no "PUBLIC KEY" PEM block`)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	ed, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("chain: a %T key, want an Ed25519 key", key)
	}
	return ed, nil
}
