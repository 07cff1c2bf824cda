package clickhousestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

// mutationPoll is how often Prune checks whether the server finished its DELETE mutation.
const mutationPoll = 50 * time.Millisecond

// Prune removes every record older than its level's retention period at now.
//
//   - It first counts what expires (FINAL, so the report counts records, not row versions).
//   - A month partition that lies entirely before every level's cutoff holds only expired
//     records and is dropped whole (O(1), no rewrite; on a cluster every replica drops it
//     before Prune goes on). That needs every level to have a period: a level kept forever may
//     have records in any month. Both layouts partition by toYYYYMM(Timestamp), and 18.16
//     has DROP PARTITION ID, so the legacy layout drops months too.
//   - Whatever else expired goes with one ALTER TABLE ... DELETE mutation, which Prune waits
//     for, so that on return no read finds a pruned record.
//
// Mutations rewrite the parts they touch; running Prune on the exporter's cron (daily by
// default) keeps that to one rewrite per part a day.
func (s *Store) Prune(ctx context.Context, policy store.RetentionPolicy, now time.Time) (store.PruneResult, error) {
	res := store.PruneResult{RemovedByLevel: store.LevelCounts()}
	d, err := s.dialect(ctx)
	if err != nil {
		return res, fmt.Errorf("clickhousestore: prune: %w", err)
	}
	cond := d.expiredCondition(policy, now)
	if cond == "" {
		return res, nil
	}
	expired, err := s.countByLevel(ctx, d.pruneCountSQL(cond))
	if err != nil {
		return res, fmt.Errorf("clickhousestore: prune: count expired records: %w", err)
	}
	var total int64
	for _, n := range expired {
		total += n
	}
	if total == 0 {
		return res, nil
	}

	if err := s.dropExpiredPartitions(ctx, d, policy, now); err != nil {
		return res, err
	}
	// What remains expired after the drops decides whether a mutation is needed at all.
	left, err := s.countByLevel(ctx, d.pruneCountSQL(cond))
	if err != nil {
		return res, fmt.Errorf("clickhousestore: prune: count expired records: %w", err)
	}
	var n int64
	for _, c := range left {
		n += c
	}
	if n == 0 {
		return reportRemoved(res, expired), nil
	}
	if err := s.conn.Exec(ctx, d.pruneDeleteSQL(cond)); err != nil {
		return res, fmt.Errorf("clickhousestore: prune: delete: %w", err)
	}
	if err := s.waitMutations(ctx, d); err != nil {
		// The DELETE is on the servers' queues and goes on without us: report what it
		// removes, so the caller checkpoints the cutoffs (sharedstore does when Total > 0).
		return reportRemoved(res, expired), err
	}
	return reportRemoved(res, expired), nil
}

func reportRemoved(res store.PruneResult, removed map[record.Level]int64) store.PruneResult {
	for l, n := range removed {
		res.RemovedByLevel[l.String()] += n
		res.Total += n
	}
	return res
}

func (s *Store) countByLevel(ctx context.Context, sql string) (map[record.Level]int64, error) {
	rows, err := s.conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[record.Level]int64{}
	for rows.Next() {
		var level uint8
		var n uint64
		if err := rows.Scan(&level, &n); err != nil {
			return nil, err
		}
		out[record.Level(level)] += int64(n)
	}
	return out, rows.Err()
}

// droppablePartitions returns the month partitions (YYYYMM ids) that end at or before the
// earliest cutoff of every level; none when a level is kept forever.
func droppablePartitions(partitions []string, policy store.RetentionPolicy, now time.Time) []string {
	var earliest time.Time
	for i, l := range record.Levels {
		p := policy.For(l)
		if p <= 0 {
			return nil
		}
		if c := now.Add(-p); i == 0 || c.Before(earliest) {
			earliest = c
		}
	}
	var out []string
	for _, id := range partitions {
		if len(id) != 6 {
			continue
		}
		ym, err := strconv.Atoi(id)
		if err != nil {
			continue
		}
		end := time.Date(ym/100, time.Month(ym%100)+1, 1, 0, 0, 0, 0, time.UTC)
		if !end.After(earliest) {
			out = append(out, id)
		}
	}
	return out
}

func (s *Store) dropExpiredPartitions(ctx context.Context, d dialect, policy store.RetentionPolicy, now time.Time) error {
	rows, err := s.conn.Query(ctx, d.partitionsSQL())
	if err != nil {
		return fmt.Errorf("clickhousestore: prune: list partitions: %w", err)
	}
	var partitions []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("clickhousestore: prune: list partitions: %w", err)
		}
		partitions = append(partitions, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhousestore: prune: list partitions: %w", err)
	}
	drop := droppablePartitions(partitions, policy, now)
	for _, id := range drop {
		if err := s.dropPartition(ctx, d, id); err != nil {
			return fmt.Errorf("clickhousestore: prune: drop partition %s: %w", id, err)
		}
	}
	if len(drop) == 0 {
		return nil
	}
	return s.waitReplicas(ctx, d, "drop partition", s.replicasHolding(drop))
}

// dropPartition runs one DROP PARTITION. A replica of 18.16 that is not the table's leader
// forwards it to the leader, and for a few seconds after the leader dies (until its
// ZooKeeper session expires and another replica is elected) the forward fails
// (leaderChanging); on a cluster those are retried until ctx ends.
func (s *Store) dropPartition(ctx context.Context, d dialect, id string) error {
	for {
		err := s.conn.Exec(ctx, d.dropPartitionSQL(id))
		if err == nil || d.cluster == "" || !leaderChanging(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (the table's leader replica is unreachable and no other was elected in time)", err)
		case <-time.After(leaderRetry):
		}
	}
}

// leaderChanging reports the server's errors while the leader replica is dead or being
// replaced: SOCKET_TIMEOUT, NETWORK_ERROR, LEADERSHIP_CHANGED ("Leader was suddenly changed"),
// and KEEPER_EXCEPTION when the dead leader's ephemeral leader_election node vanished between
// the survivor listing and reading it ("Can't get data for node .../leader_election-…: node
// doesn't exist", seen once in CI). All were seen on the test cluster during the election;
// dropPartition retries them every leaderRetry until ctx ends.
func leaderChanging(err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case 209, 210, 292:
		return true
	case 999:
		return strings.Contains(ex.Message, "leader_election")
	}
	return false
}

const leaderRetry = 250 * time.Millisecond

// waitMutations returns once the table has no unfinished mutation. The legacy server has no
// mutations_sync setting, so both layouts poll system.mutations; on a cluster the legacy
// layout then waits for every replica too (replicasBehind), since system.mutations speaks
// only for the replica the store is connected to.
func (s *Store) waitMutations(ctx context.Context, d dialect) error {
	if err := s.waitLocalMutations(ctx, d); err != nil {
		return err
	}
	return s.waitReplicas(ctx, d, "delete", s.replicasBehind)
}

// waitReplicas returns once behind reports no active replica behind; only the legacy
// layout's cluster needs it (see mutations.go).
func (s *Store) waitReplicas(ctx context.Context, d dialect, what string, behind func(context.Context, dialect) (map[string][]string, error)) error {
	if d.cluster == "" || d.modern() {
		return nil
	}
	for {
		left, err := behind(ctx, d)
		if err != nil {
			return fmt.Errorf("clickhousestore: prune: wait for %s on every replica: %w", what, err)
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clickhousestore: prune: wait for %s on every replica (%s still serve rows it removed; they catch up on their own): %w",
				what, describeBehind(left), ctx.Err())
		case <-time.After(mutationPoll):
		}
	}
}

func (s *Store) waitLocalMutations(ctx context.Context, d dialect) error {
	for {
		var pending uint64
		if err := s.conn.QueryRow(ctx, d.pendingMutationsSQL()).Scan(&pending); err != nil {
			return fmt.Errorf("clickhousestore: prune: wait for delete: %w", err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clickhousestore: prune: wait for delete (%d mutations pending; the server finishes them on its own): %w", pending, ctx.Err())
		case <-time.After(mutationPoll):
		}
	}
}
