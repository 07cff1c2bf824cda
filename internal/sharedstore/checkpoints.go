package sharedstore

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chaindigest"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// checkpointer signs each tenant's chain head after checkpoint_every_records new records or
// checkpoint_interval after the first record since its last checkpoint, after every retention
// run (with the run's cutoffs, so verify can tell pruned records from deleted ones), and once
// more at shutdown, so a clean stop leaves no unsigned tail.
type checkpointer struct {
	cs           store.ChainStore
	signer       *chain.Signer // nil: unsigned checkpoints
	every        int
	interval     time.Duration
	dir          string
	digests      *chaindigest.Writer // nil: no digests
	digestPeriod time.Duration
	logger       *zap.Logger
	now          func() time.Time

	mu      sync.Mutex
	pending map[string]int       // new records per tenant since its last checkpoint
	since   map[string]time.Time // when the first of them was committed
	signed  map[string]uint64    // the seq of each tenant's last periodic checkpoint (loop only)
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newCheckpointer(cs store.ChainStore, signer *chain.Signer, cfg TamperEvidenceConfig, logger *zap.Logger, now func() time.Time) *checkpointer {
	return &checkpointer{
		cs: cs, signer: signer, every: cfg.CheckpointEveryRecords, interval: cfg.CheckpointInterval,
		dir: cfg.CheckpointDir, digestPeriod: cfg.Digests.Period, logger: logger, now: now,
		pending: map[string]int{}, since: map[string]time.Time{}, signed: map[string]uint64{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// committed counts records the store has committed (batch tenant as Store.Insert reads it).
func (c *checkpointer) committed(tenant string, recs []record.Record) {
	c.mu.Lock()
	due := false
	for i := range recs {
		// The insert succeeded, so every record resolved to a tenant.
		t, _ := store.RowTenant(tenant, i, &recs[i])
		if c.pending[t] == 0 {
			c.since[t] = c.now()
		}
		c.pending[t]++
		due = due || c.pending[t] >= c.every
	}
	c.mu.Unlock()
	if due {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) start() { go c.loop() }

func (c *checkpointer) loop() {
	defer close(c.done)
	// Ticking at a fraction of the interval keeps a tenant's wait close to the interval, and
	// at a fraction of the digest period a checkpoint's wait for its digest close to that.
	every := c.interval / 4
	if c.digests != nil {
		every = min(every, c.digestPeriod/4)
	}
	tick := time.NewTicker(max(every, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		case <-tick.C:
		}
		c.checkpointDue(context.Background(), false)
		c.flushDigests(context.Background(), false)
	}
}

// checkpointDue writes a periodic checkpoint for each tenant that is due (all with pending
// records when all is true).
func (c *checkpointer) checkpointDue(ctx context.Context, all bool) {
	now := c.now()
	c.mu.Lock()
	var due []string
	for t, n := range c.pending {
		if all || n >= c.every || now.Sub(c.since[t]) >= c.interval {
			due = append(due, t)
			delete(c.pending, t)
			delete(c.since, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		// Replays are counted as committed but do not move the head: skip what is signed.
		if cp, ok := c.write(ctx, t, chain.KindPeriodic, nil, c.signed[t], now); ok {
			c.signed[t] = cp.Seq
		}
	}
}

// afterPrune writes a prune checkpoint for every tenant with a chain.
func (c *checkpointer) afterPrune(ctx context.Context, policy store.RetentionPolicy, now time.Time) {
	tenants, err := c.cs.ChainTenants(ctx)
	if err != nil {
		c.logger.Error("Cannot list the chained tenants for the retention checkpoint; verify will report this run's removals as deletions until the next run", zap.Error(err))
		return
	}
	cutoffs := policy.Cutoffs(now)
	for _, t := range tenants {
		c.write(ctx, t, chain.KindPrune, cutoffs, 0, now)
	}
}

// write signs and saves one checkpoint (and its file); false when none was written.
func (c *checkpointer) write(ctx context.Context, tenant, kind string, cutoffs map[record.Level]time.Time, since uint64, now time.Time) (chain.Checkpoint, bool) {
	cp, wrote, err := store.WriteCheckpoint(ctx, c.cs, c.signer, tenant, kind, cutoffs, since, now)
	if err != nil {
		// The chain itself is intact; only its signed coverage lags until the next checkpoint.
		c.logger.Warn("Chain checkpoint failed", zap.String("tenant", tenant), zap.String("kind", kind), zap.Error(err))
		return cp, false
	}
	if wrote && c.digests != nil {
		c.digests.Add(cp)
	}
	if wrote && c.dir != "" {
		if err := chain.WriteCheckpointFile(c.dir, cp); err != nil {
			c.logger.Warn("Chain checkpoint file not written", zap.String("tenant", tenant), zap.Error(err))
		}
	}
	return cp, wrote
}

// shutdown stops the loop and checkpoints every tenant with records since its last checkpoint.
func (c *checkpointer) shutdown(ctx context.Context) {
	close(c.stop)
	<-c.done
	c.checkpointDue(ctx, true)
	c.flushDigests(ctx, true)
}

// flushDigests delivers the digests of the period (all pending ones when force is set).
func (c *checkpointer) flushDigests(ctx context.Context, force bool) {
	if c.digests == nil {
		return
	}
	if err := c.digests.Flush(ctx, c.now(), force); err != nil {
		// The checkpoints are in the database; only their copy outside it is late.
		c.logger.Error("Chain digests not delivered; they are retried at the next period", zap.Error(err))
	}
}
