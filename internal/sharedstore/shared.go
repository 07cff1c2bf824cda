// Package sharedstore is the audit store one collector shares among its components: it opens
// and migrates the configured backend, runs retention, signs the chain's checkpoints, feeds
// committed records to subscribers (the live tail) and keeps the store's health. The auditstore
// extension is its component; exporters and the query extension use it through the
// internal/auditstore contract, which *Shared implements.
package sharedstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/auditstore"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chaindigest"
	"github.com/otelcol-audit/otelcol-audit/internal/chainexport"
	"github.com/otelcol-audit/otelcol-audit/internal/health"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/retention"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/clickhousestore"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// Shared is one opened store and what its owner does besides storing. Start opens it,
// Shutdown closes it; the Handle methods are valid in between.
type Shared struct {
	cfg       Config
	logger    *zap.Logger
	telemetry component.TelemetrySettings // for the digest webhook's client
	now       func() time.Time

	st   store.Store
	keys chain.Keyring // what verify accepts
	// verified is, per tenant, the checkpoint the last intact verification of the whole chain
	// reached: the next one resumes after it (chain.VerifySince) unless a range or Full is
	// asked for. It lives in the collector's memory, out of the database's reach.
	verifiedMu  sync.Mutex
	verified    map[string]chain.Resume
	checkpoints *checkpointer // nil: no chain, or read-only
	retention   *retention.Scheduler
	stopOnce    sync.Once
	stopErr     error

	feed    members[func([]record.Record)] // after-commit subscribers
	writers members[health.Source]         // parts of Health

	mu            sync.Mutex // guards the store's health below
	failureCount  int64
	lastFailureAt time.Time
	lastError     string
	failing       bool
}

var _ auditstore.Handle = (*Shared)(nil)

// New returns a Shared that opens cfg's store at Start.
func New(cfg Config, logger *zap.Logger) *Shared {
	return &Shared{cfg: cfg, logger: logger, now: time.Now, telemetry: component.TelemetrySettings{
		Logger: logger, TracerProvider: nooptrace.NewTracerProvider(), MeterProvider: noopmetric.NewMeterProvider()}}
}

// WithTelemetry gives the store the component's telemetry, for the clients it makes (the
// digest webhook).
func (s *Shared) WithTelemetry(ts component.TelemetrySettings) *Shared {
	s.telemetry = ts
	return s
}

// Over returns a Shared over a store the caller opened (tests wrap one to inject outages;
// tools); Start then does not open one, and Shutdown closes it.
func Over(st store.Store, cfg Config, logger *zap.Logger) *Shared {
	s := New(cfg, logger)
	s.st = st
	return s
}

// Start opens (and, unless read-only, migrates) the store, then starts the checkpointer and
// the retention schedule.
func (s *Shared) Start(ctx context.Context, host component.Host) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if s.st == nil {
		st, err := s.open(ctx)
		if err != nil {
			return err
		}
		s.st = st
	}
	if err := s.startChain(ctx, host); err != nil {
		return errors.Join(err, s.closeStore())
	}
	if s.cfg.ReadOnly {
		return nil
	}
	var err error
	if s.retention, err = retention.NewScheduler(s.cfg.Retention, s.prune, s.logger); err != nil {
		s.stopChain(ctx)
		return errors.Join(err, s.closeStore())
	}
	if err := s.retention.Start(ctx); err != nil {
		s.stopChain(ctx)
		return errors.Join(err, s.closeStore())
	}
	return nil
}

func (s *Shared) open(ctx context.Context) (store.Store, error) {
	chained := s.cfg.TamperEvidence.Enabled
	if s.cfg.Backend == BackendClickHouse {
		cfg := s.cfg.ClickHouse
		cfg.Chain = chained
		if s.cfg.ReadOnly {
			cfg.CreateSchema = false
		}
		// An unreachable server is not an error here: the store connects on first use, so
		// the collector starts and records wait in the WAL and the DLQ until it answers.
		st, err := clickhousestore.Open(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open clickhouse store: %w", err)
		}
		return st, nil
	}
	cfg := s.cfg.SQLite
	cfg.Chain = chained
	if s.cfg.ReadOnly {
		// Whatever partition_max_rows says, a query node follows the files its writer made.
		st, err := sqlitestore.OpenStoreReadOnly(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		return st, nil
	}
	// OpenStore picks single_database or database_per_tenant from the config.
	st, err := sqlitestore.OpenStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	return st, nil
}

// startChain loads the keys and, on a writable store, starts the checkpointer, when
// tamper_evidence is on and the store keeps a chain.
func (s *Shared) startChain(ctx context.Context, host component.Host) error {
	te := s.cfg.TamperEvidence
	if !te.Enabled {
		return nil
	}
	cs, ok := s.st.(store.ChainStore)
	if !ok {
		s.logger.Warn("The store keeps no hash chain; tamper_evidence has no effect", zap.String("backend", s.cfg.Backend))
		return nil
	}
	var signer *chain.Signer
	s.keys = chain.Keyring{}
	if te.SigningKeyFile != "" {
		key, err := chain.LoadPrivateKey(te.SigningKeyFile)
		if err != nil {
			return fmt.Errorf("tamper_evidence.signing_key_file: %w", err)
		}
		signer = chain.NewSigner(key)
		s.keys = chain.NewKeyring(signer.PublicKey())
		s.logger.Info("Chain checkpoints are signed", zap.String("key_id", chain.KeyID(signer.PublicKey())))
	} else if !s.cfg.ReadOnly {
		s.logger.Warn("tamper_evidence.signing_key_file is not set: chain checkpoints are unsigned, so someone who can write the database could rewrite the chain undetected")
	}
	for i, path := range te.PublicKeyFiles {
		pub, err := chain.LoadPublicKey(path)
		if err != nil {
			return fmt.Errorf("tamper_evidence.public_key_files[%d]: %w", i, err)
		}
		s.keys[chain.KeyID(pub)] = pub
	}
	if s.cfg.ReadOnly {
		return nil
	}
	s.checkpoints = newCheckpointer(cs, signer, te, s.logger, s.now)
	if te.Digests.enabled() {
		w, err := s.digestWriter(ctx, host)
		if err != nil {
			return err
		}
		s.checkpoints.digests = w
	}
	s.checkpoints.start()
	return nil
}

// digestWriter makes the digest sinks the configuration names.
func (s *Shared) digestWriter(ctx context.Context, host component.Host) (*chaindigest.Writer, error) {
	d := s.cfg.TamperEvidence.Digests
	var dir *chaindigest.Dir
	if d.Directory != "" {
		dir = &chaindigest.Dir{Path: d.Directory}
		if err := os.MkdirAll(d.Directory, 0o750); err != nil {
			return nil, fmt.Errorf("tamper_evidence.digests.directory: %w", err)
		}
	}
	var others []chaindigest.Sink
	if wh := d.Webhook.Get(); wh != nil {
		var exts map[component.ID]component.Component
		if host != nil {
			exts = host.GetExtensions()
		}
		client, err := wh.ToClient(ctx, exts, s.telemetry)
		if err != nil {
			return nil, fmt.Errorf("tamper_evidence.digests.webhook: %w", err)
		}
		others = append(others, chaindigest.NewWebhook(client, wh.Endpoint))
	}
	return chaindigest.NewWriter(dir, others, d.Period, s.now()), nil
}

// stopChain writes the last checkpoints and stops the checkpointer, once: a Start that failed
// stops it, and the Shutdown the collector still calls must not stop it again.
func (s *Shared) stopChain(ctx context.Context) {
	if s.checkpoints != nil {
		// After the last inserts and retention run, before the store closes.
		s.checkpoints.shutdown(ctx)
		s.checkpoints = nil
	}
}

func (s *Shared) closeStore() error {
	if s.st == nil {
		return nil
	}
	return s.st.Close()
}

// Shutdown stops retention, writes the last checkpoints and closes the store. The collector
// shuts extensions down after the pipelines, so every writer has flushed by then. Safe before
// Start and twice.
func (s *Shared) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		if s.retention != nil {
			s.retention.Stop()
		}
		s.stopChain(ctx)
		s.stopErr = s.closeStore()
	})
	return s.stopErr
}

// Store is the backend, for reads.
func (s *Shared) Store() store.Store { return s.st }

// ReadOnly is true for a query node's store.
func (s *Shared) ReadOnly() bool { return s.cfg.ReadOnly }

// Insert stores one tenant's batch, then runs what follows a commit: the chain's checkpoint
// count and the live feed.
func (s *Shared) Insert(ctx context.Context, tenant string, recs []record.Record) (int, error) {
	if s.cfg.ReadOnly {
		return 0, auditstore.ErrReadOnly
	}
	stored, err := s.st.Insert(ctx, tenant, recs)
	if err != nil {
		s.noteFailure(err)
		if errors.Is(err, store.ErrInvalidRecord) {
			// Retrying cannot help: writers set the batch aside at once.
			err = consumererror.NewPermanent(err)
		}
		return stored, err
	}
	s.noteSuccess()
	if s.checkpoints != nil {
		s.checkpoints.committed(tenant, recs)
	}
	s.feed.each(func(fn func([]record.Record)) { fn(recs) })
	return stored, nil
}

// Subscribe adds fn to the after-commit feed.
func (s *Shared) Subscribe(fn func([]record.Record)) (cancel func()) { return s.feed.add(fn) }

// AddWriter adds a writer's pipeline state to Health.
func (s *Shared) AddWriter(w health.Source) (remove func()) { return s.writers.add(w) }

// Health is the store's failures merged with every writer's state.
func (s *Shared) Health() health.Snapshot {
	s.mu.Lock()
	own := health.Snapshot{Status: health.StatusOK, FailureCount: s.failureCount, LastError: s.lastError}
	if !s.lastFailureAt.IsZero() {
		t := s.lastFailureAt
		own.LastFailureAt = &t
	}
	if s.failing {
		own.Status = health.StatusDegraded
	}
	s.mu.Unlock()
	parts := []health.Snapshot{own}
	s.writers.each(func(w health.Source) { parts = append(parts, w.Health()) })
	return health.Merge(parts...)
}

func (s *Shared) noteFailure(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failureCount++
	s.lastFailureAt = s.now().UTC()
	s.lastError = err.Error()
	s.failing = true
}

func (s *Shared) noteSuccess() {
	s.mu.Lock()
	s.failing = false
	s.mu.Unlock()
}

// RunRetention applies the retention policy now.
func (s *Shared) RunRetention(ctx context.Context) (store.PruneResult, error) {
	if s.retention == nil {
		return store.PruneResult{}, auditstore.ErrReadOnly
	}
	return s.retention.RunNow(ctx)
}

// prune is the retention scheduler's run: the store's Prune, then a checkpoint per tenant that
// records the run's cutoffs, so verify tells the records it removed from deleted ones. The
// checkpoint is written even after a failed run, which may have removed some records.
func (s *Shared) prune(ctx context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
	res, err := s.st.Prune(ctx, policy, now)
	if s.checkpoints != nil && res.Total > 0 {
		s.checkpoints.afterPrune(ctx, policy, now)
	}
	return res, err
}

// VerifyChain checks a tenant's chain with the configured keys and, when checkpoint files or
// digests are kept, against them too. A verification of the whole chain resumes after the
// checkpoint the last intact one reached (r.Full recomputes everything).
func (s *Shared) VerifyChain(ctx context.Context, tenant string, r chain.Range) (chain.Report, error) {
	cs, ok := s.st.(store.ChainStore)
	if !ok || !s.cfg.TamperEvidence.Enabled {
		return chain.Report{}, auditstore.ErrNoChain
	}
	// Only a verification of the whole chain resumes, and records where the next can.
	whole := r.Start.IsZero() && r.End.IsZero()
	var since *chain.Resume
	if whole && !r.Full {
		s.verifiedMu.Lock()
		if cp, ok := s.verified[tenant]; ok {
			since = &cp
		}
		s.verifiedMu.Unlock()
	}
	var extra []chain.Checkpoint
	if dir := s.cfg.TamperEvidence.CheckpointDir; dir != "" {
		files, err := chain.ReadCheckpointFiles(dir, tenant)
		if err != nil {
			return chain.Report{}, err
		}
		extra = files
	}
	var (
		rep  chain.Report
		next *chain.Resume
		err  error
	)
	if dir := s.cfg.TamperEvidence.Digests.Directory; dir != "" {
		files, ferr := chaindigest.ReadFiles(dir, tenant)
		if ferr != nil {
			return chain.Report{}, ferr
		}
		rep, next, err = chaindigest.Verify(ctx, cs, s.keys, tenant, r, files, extra, since)
	} else {
		rep, next, err = chain.VerifySince(ctx, chain.WithCheckpoints(cs, extra), s.keys, tenant, r, since)
	}
	if err == nil && whole && next != nil {
		s.verifiedMu.Lock()
		if s.verified == nil {
			s.verified = map[string]chain.Resume{}
		}
		s.verified[tenant] = *next
		s.verifiedMu.Unlock()
	}
	return rep, err
}

// ExportChain writes the evidence export of a tenant's chain over r into dir (chainexport):
// the records, links and checkpoints from the store, the public keys verify accepts, and the
// tenant's digests when a digest directory is kept.
func (s *Shared) ExportChain(ctx context.Context, dir, tenant string, r chain.Range) (chainexport.Manifest, error) {
	cs, ok := s.st.(store.ChainStore)
	if !ok || !s.cfg.TamperEvidence.Enabled {
		return chainexport.Manifest{}, auditstore.ErrNoChain
	}
	opts := chainexport.Options{Tenant: tenant, Range: r}
	for _, pub := range s.keys {
		opts.Keys = append(opts.Keys, pub)
	}
	slices.SortFunc(opts.Keys, func(a, b ed25519.PublicKey) int { return bytes.Compare(a, b) })
	if d := s.cfg.TamperEvidence.Digests.Directory; d != "" {
		files, err := chaindigest.ReadFiles(d, tenant)
		if err != nil {
			return chainexport.Manifest{}, err
		}
		for _, f := range files {
			opts.Digests = append(opts.Digests, chainexport.DigestFile{Name: f.Name, Data: f.Data})
		}
	}
	return chainexport.Write(ctx, dir, cs, cs.Get, opts)
}
