package redactprocessor

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
	"github.com/otelcol-audit/otelcol-audit/processor/redactprocessor/internal/redact"
)

// Identity attributes name a record or its tenant; stores key records by (tenant.id, audit.id).
// Replacing such a value by the shared redaction marker would give different records one
// identity, and all but the first would be dropped as replays. So an identity value that
// would be redacted is replaced by its digest instead: a keyed hash that is the same for the
// same value (a client's retry still names the same record) and different for different
// values, from which the raw value cannot be read back or guessed without the key.
var identityKeys = map[string]bool{"audit.id": true, "tenant.id": true}

// identityDigestPrefix starts every identity digest, so that a reader sees the value was
// derived, and what from: "redacted-" then 32 hex digits of HMAC-SHA256(key, name 0x00 value).
const identityDigestPrefix = "redacted-"

// identityRule is the rule name under which digested identities are counted and summarised.
const identityRule = "identity_digest"

const identityKeyLen = 32

// identityDigest is the digest of value under the attribute name.
func identityDigest(key []byte, name, value string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(name))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return identityDigestPrefix + hex.EncodeToString(mac.Sum(nil)[:16])
}

// loadIdentityKey reads identity_key_file, creating it with a new random key (mode 0600) when
// it does not exist. Without a file, the key is random for this process: digests then differ
// after a restart, so a client's retry across a restart of a secret-looking id is stored again.
func (cfg *Config) loadIdentityKey(logger *zap.Logger) ([]byte, error) {
	if cfg.IdentityKeyFile == "" {
		logger.Warn("redact: identity_key_file is not set: secret-looking audit.id and tenant.id values are digested with a key that changes at every start, so a retry across a restart is stored again")
		return randomKey()
	}
	data, err := os.ReadFile(cfg.IdentityKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := randomKey()
		if err != nil {
			return nil, err
		}
		if err := writeNewKeyFile(cfg.IdentityKeyFile, key); err != nil {
			return nil, fmt.Errorf("identity_key_file: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity_key_file: read key: %w", err)
	}
	if len(data) < identityKeyLen {
		return nil, fmt.Errorf("identity_key_file: %s holds %d bytes, at least %d are needed", cfg.IdentityKeyFile, len(data), identityKeyLen)
	}
	return data, nil
}

func randomKey() ([]byte, error) {
	key := make([]byte, identityKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	return key, nil
}

// writeNewKeyFile creates path with key, fsynced, failing if the file appeared meanwhile.
func writeNewKeyFile(path string, key []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	// The file's name must survive a power loss too: a lost key would give the same secret a
	// different digest after the restart.
	return atomicfile.SyncDir(filepath.Dir(path))
}

// protectIdentity handles the identity attribute name: a value the rules would redact becomes
// its digest, any other value is kept as it is. It reports whether name is an identity key.
func (p *redactProcessor) protectIdentity(name string, v pcommon.Value, rep *redact.Report) bool {
	if !identityKeys[name] {
		return false
	}
	if !p.wouldRedact(name, v) {
		return true
	}
	v.SetStr(identityDigest(p.identityKey, name, v.AsString()))
	rep.AddField(identityRule)
	return true
}

// wouldRedact runs the rules on a copy of v under name and tells whether they change it.
func (p *redactProcessor) wouldRedact(name string, v pcommon.Value) bool {
	verdict, _ := p.redactor.ClassifyKey(name)
	switch verdict {
	case redact.KeyAllowed, redact.KeyIgnored:
		return false
	case redact.KeySecret:
		return true
	}
	var scratch redact.Report
	if v.Type() == pcommon.ValueTypeStr {
		// The common case, on every record: ask the rules about the string, without a copy.
		return p.redactString(v.Str(), verdict, &scratch) != v.Str()
	}
	probe := pcommon.NewValueEmpty()
	v.CopyTo(probe)
	p.redactValue(probe, verdict, &scratch)
	return !probe.Equal(v)
}
