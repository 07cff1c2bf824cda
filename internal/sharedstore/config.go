package sharedstore

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-audit/otelcol-audit/internal/retention"
	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// Config is the auditstore extension's configuration: which backend, and what the owner of a
// store does besides storing (retention, the hash chain).
type Config struct {
	// Backend is "sqlite" (the embedded default) or "clickhouse" (scale-out); only the
	// selected backend's section is used.
	Backend    string                 `mapstructure:"backend"`
	SQLite     sqlitestore.Config     `mapstructure:"sqlite"`
	ClickHouse clickhousestore.Config `mapstructure:"clickhouse"`

	// ReadOnly opens the store for queries only: a query node over a store another collector
	// writes. It never migrates, inserts, prunes or checkpoints.
	ReadOnly bool `mapstructure:"read_only"`

	// Retention prunes expired records per level on a cron schedule. It runs where the writer
	// is (never on a read-only store), so it never competes with a second writer.
	Retention retention.Config `mapstructure:"retention"`

	// TamperEvidence links every stored record onto its tenant's hash chain and signs the
	// chain's head at checkpoints (docs/TAMPER_EVIDENCE.md).
	TamperEvidence TamperEvidenceConfig `mapstructure:"tamper_evidence"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// TamperEvidenceConfig is the hash chain and its signed checkpoints.
type TamperEvidenceConfig struct {
	// Enabled links every record the store commits onto its tenant's chain. Records stored
	// while it is off are on no chain, and verify reports them as inserted around it.
	Enabled bool `mapstructure:"enabled"`
	// SigningKeyFile is an Ed25519 private key in PKCS #8 PEM (`auditctl chain keygen` or
	// `openssl genpkey -algorithm ed25519`). Empty: checkpoints are unsigned, which catches
	// damage and naive edits but not someone who rewrites the chain.
	SigningKeyFile string `mapstructure:"signing_key_file"`
	// PublicKeyFiles are more Ed25519 public keys (PKIX PEM) whose signatures the verify
	// endpoint accepts: the keys of earlier signing_key_files, after a rotation or a lost
	// private key, so that the history they signed still verifies as signed.
	PublicKeyFiles []string `mapstructure:"public_key_files"`
	// CheckpointEveryRecords and CheckpointInterval: a tenant's head is checkpointed after this
	// many new records, or this long after its first record since the last checkpoint,
	// whichever comes first. Records after the last checkpoint are the part of the chain that
	// could be rewritten undetected, so these bound the exposure.
	CheckpointEveryRecords int           `mapstructure:"checkpoint_every_records"`
	CheckpointInterval     time.Duration `mapstructure:"checkpoint_interval"`
	// CheckpointDir, if set, also receives every checkpoint as a JSON file, outside the
	// database (point it at storage the database's users cannot write).
	CheckpointDir string `mapstructure:"checkpoint_dir"`
	// Digests deliver every checkpoint also to sinks outside the database, so that someone
	// who can rewrite the database's checkpoints cannot rewrite those (docs/TAMPER_EVIDENCE.md,
	// "Digests").
	Digests DigestsConfig `mapstructure:"digests"`
}

// DigestsConfig is where digests go: an append-only directory, an HTTP receiver, or both.
type DigestsConfig struct {
	// Directory receives one digest file per tenant and period, never rewritten.
	Directory string `mapstructure:"directory"`
	// Period is the longest a checkpoint waits for its digest (and the shortest time between
	// two digests of a tenant); shutdown delivers what is pending.
	Period time.Duration `mapstructure:"period"`
	// Webhook POSTs every digest to a receiver (confighttp's client settings).
	Webhook configoptional.Optional[confighttp.ClientConfig] `mapstructure:"webhook"`
}

// enabled is true when digests go anywhere.
func (d DigestsConfig) enabled() bool { return d.Directory != "" || d.Webhook.HasValue() }

// Backends.
const (
	BackendSQLite     = "sqlite"
	BackendClickHouse = "clickhouse"
)

// DefaultConfig is an SQLite file under ./data with retention and a chain of unsigned
// checkpoints.
func DefaultConfig() Config {
	return Config{
		Backend:    BackendSQLite,
		SQLite:     sqlitestore.DefaultConfig(),
		ClickHouse: clickhousestore.DefaultConfig(),
		Retention:  retention.DefaultConfig(),
		TamperEvidence: TamperEvidenceConfig{
			Enabled:                true,
			CheckpointEveryRecords: 10000,
			CheckpointInterval:     time.Minute,
			Digests:                DigestsConfig{Period: time.Minute},
		},
	}
}

// Validate checks the configuration without touching the disk or the network.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Backend {
	case BackendSQLite:
		if err := c.SQLite.Validate(); err != nil {
			add("sqlite: %w", err)
		}
		if c.ReadOnly && c.SQLite.Tenancy == sqlitestore.TenancyDatabasePerTenant {
			add("read_only: not available with sqlite.tenancy: %s; use %s", sqlitestore.TenancyDatabasePerTenant, sqlitestore.TenancySingleDatabase)
		}
	case BackendClickHouse:
		if err := c.ClickHouse.Validate(); err != nil {
			add("clickhouse: %w", err)
		}
	default:
		add("backend: unknown backend %q: expected %q or %q", c.Backend, BackendSQLite, BackendClickHouse)
	}
	if err := c.Retention.Validate(); err != nil {
		add("retention: %w", err)
	}
	if te := c.TamperEvidence; te.Enabled {
		if te.CheckpointEveryRecords < 1 {
			add("tamper_evidence.checkpoint_every_records: must be at least 1, got %d", te.CheckpointEveryRecords)
		}
		if te.CheckpointInterval <= 0 {
			add("tamper_evidence.checkpoint_interval: must be positive, got %s", te.CheckpointInterval)
		}
		if te.Digests.enabled() && te.Digests.Period <= 0 {
			add("tamper_evidence.digests.period: must be positive, got %s", te.Digests.Period)
		}
		if wh := te.Digests.Webhook.Get(); wh != nil {
			if wh.Endpoint == "" {
				add("tamper_evidence.digests.webhook.endpoint: required: the URL digests are POSTed to")
			} else if u, err := url.Parse(wh.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("tamper_evidence.digests.webhook.endpoint: %q: want an http or https URL", wh.Endpoint)
			}
		}
	} else if te.SigningKeyFile != "" {
		add("tamper_evidence.signing_key_file: set while tamper_evidence.enabled is false; enable it or remove the key")
	} else if te.Digests.enabled() {
		add("tamper_evidence.digests: set while tamper_evidence.enabled is false; enable it or remove the digests")
	}
	return errors.Join(errs...)
}
