package clickhousestore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// On the legacy layout's cluster Prune runs its DROP PARTITION and DELETE on the replica it is
// connected to (onClusterForReplicatedAlter), and the server tells only about that replica:
// a DROP PARTITION returns once it dropped the parts, system.mutations says is_done = 1 while
// another replica still serves the rows a DELETE removed. ZooKeeper holds what every replica
// has, so Prune reads there (through the connected server's system.zookeeper, so no other
// address or credential is needed) until every active replica has caught up.

// replicaZooKeeperPathSQL is the table's ZooKeeper path, macros expanded; on a distributed
// store one per shard (all in the one ZooKeeper the connected server reads).
func (d dialect) replicaZooKeeperPathSQL() string {
	return "SELECT DISTINCT zookeeper_path FROM " + d.everyShard("replicas") + " WHERE database = " + quoteString(d.db) +
		" AND table = " + quoteString(d.local(d.table)) + " ORDER BY zookeeper_path"
}

func zooKeeperChildrenSQL(path string) string {
	return "SELECT name, value FROM system.zookeeper WHERE path = " + quoteString(path)
}

// mutationBlocks parses a mutation entry as the server writes it in ZooKeeper:
//
//	format version: 1
//	create time: ...
//	source replica: r1
//	block numbers count: 1
//	202612	7
//	commands: DELETE WHERE ...
//
// and returns its block number per partition: a part of that partition whose data version is
// below it has not applied the mutation yet.
func mutationBlocks(entry string) (map[string]int64, error) {
	lines := strings.Split(entry, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "block numbers count: ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || n < 0 || i+n >= len(lines) {
			return nil, fmt.Errorf("mutation entry: bad block numbers count %q", rest)
		}
		out := make(map[string]int64, n)
		for _, b := range lines[i+1 : i+1+n] {
			partition, num, ok := strings.Cut(b, "\t")
			v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("mutation entry: bad block number line %q", b)
			}
			out[partition] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("mutation entry: no block numbers")
}

// partName is a data part's name: partition_min_max_level[_mutation]. Partition ids never
// hold an underscore.
type partName struct {
	partition          string
	minBlock, maxBlock int64
	version            int64 // the mutation it carries, or minBlock: what a mutation compares
}

func parsePartName(name string) (partName, bool) {
	f := strings.Split(name, "_")
	if len(f) != 4 && len(f) != 5 {
		return partName{}, false
	}
	var nums [4]int64
	for i, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return partName{}, false
		}
		nums[i] = v
	}
	p := partName{partition: f[0], minBlock: nums[0], maxBlock: nums[1], version: nums[0]}
	if len(f) == 5 {
		p.version = nums[3]
	}
	return p, true
}

// unmutatedParts returns the parts of one replica that the mutation has not reached yet. A
// replica keeps an outdated part's name in ZooKeeper for a while after replacing it, so a
// part counts only when no mutated part of the same replica covers its blocks.
func unmutatedParts(parts []string, blocks map[string]int64) []string {
	parsed := make([]partName, 0, len(parts))
	names := make([]string, 0, len(parts))
	for _, n := range parts {
		if p, ok := parsePartName(n); ok {
			parsed = append(parsed, p)
			names = append(names, n)
		}
	}
	var out []string
	for i, p := range parsed {
		b, ok := blocks[p.partition]
		if !ok || p.version >= b {
			continue
		}
		covered := false
		for _, q := range parsed {
			if q.partition == p.partition && q.version >= b && q.minBlock <= p.minBlock && q.maxBlock >= p.maxBlock {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, names[i])
		}
	}
	sort.Strings(out)
	return out
}

// shardReplicas is what ZooKeeper lists for one replicated table (one shard's): the parts
// of each active replica, keyed by a name for messages.
type shardReplicas struct {
	zkPath string
	parts  map[string][]string
}

// activeReplicaParts returns the parts ZooKeeper lists for each active replica of the table,
// per ZooKeeper path (one, or one per shard of a distributed store). A replica that is down
// serves nothing and applies what it missed from its queue once it is back (is_active is its
// ZooKeeper session, gone within session_timeout_ms of its death): waiting for it would hold
// Prune for the whole outage.
func (s *Store) activeReplicaParts(ctx context.Context, d dialect) ([]shardReplicas, error) {
	rows, err := s.conn.Query(ctx, d.replicaZooKeeperPathSQL())
	if err != nil {
		return nil, fmt.Errorf("zookeeper path of %s: %w", d.logs(), err)
	}
	var paths []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("zookeeper path of %s: %w", d.logs(), err)
		}
		paths = append(paths, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("zookeeper path of %s: %w", d.logs(), err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("zookeeper path of %s: no replica lists the table", d.logs())
	}
	var out []shardReplicas
	for _, zkPath := range paths {
		replicas, err := s.zooKeeperChildren(ctx, zkPath+"/replicas")
		if err != nil {
			return nil, err
		}
		sr := shardReplicas{zkPath: zkPath, parts: map[string][]string{}}
		for r := range replicas {
			state, err := s.zooKeeperChildren(ctx, zkPath+"/replicas/"+r)
			if err != nil {
				return nil, err
			}
			if _, active := state["is_active"]; !active {
				continue
			}
			parts, err := s.zooKeeperChildren(ctx, zkPath+"/replicas/"+r+"/parts")
			if err != nil {
				return nil, err
			}
			names := make([]string, 0, len(parts))
			for n := range parts {
				names = append(names, n)
			}
			sort.Strings(names)
			name := r
			if len(paths) > 1 {
				name = zkPath + "/replicas/" + r
			}
			sr.parts[name] = names
		}
		out = append(out, sr)
	}
	return out, nil
}

// replicasHolding returns, per active replica, its parts of the given partitions: after a
// DROP PARTITION a replica removes every part of the partition from ZooKeeper, outdated ones
// too, once it has dropped them.
func (s *Store) replicasHolding(partitions []string) func(context.Context, dialect) (map[string][]string, error) {
	return func(ctx context.Context, d dialect) (map[string][]string, error) {
		shards, err := s.activeReplicaParts(ctx, d)
		if err != nil {
			return nil, err
		}
		behind := map[string][]string{}
		for _, sr := range shards {
			for r, parts := range sr.parts {
				for _, n := range parts {
					if p, ok := parsePartName(n); ok && slices.Contains(partitions, p.partition) {
						behind[r] = append(behind[r], n)
					}
				}
			}
		}
		return behind, nil
	}
}

// replicasBehind returns, per active replica of the table, the parts that have not applied
// every mutation in ZooKeeper yet; empty when all of them are done.
func (s *Store) replicasBehind(ctx context.Context, d dialect) (map[string][]string, error) {
	shards, err := s.activeReplicaParts(ctx, d)
	if err != nil {
		return nil, err
	}
	behind := map[string][]string{}
	for _, sr := range shards {
		mutations, err := s.zooKeeperChildren(ctx, sr.zkPath+"/mutations")
		if err != nil {
			return nil, err
		}
		// One partition's highest mutation block is enough: a part at or above it has
		// applied the earlier ones too. Block numbers are per table, so per shard.
		blocks := map[string]int64{}
		for name, entry := range mutations {
			m, err := mutationBlocks(entry)
			if err != nil {
				return nil, fmt.Errorf("%s/mutations/%s: %w", sr.zkPath, name, err)
			}
			for p, b := range m {
				if b > blocks[p] {
					blocks[p] = b
				}
			}
		}
		for r, parts := range sr.parts {
			if left := unmutatedParts(parts, blocks); len(left) > 0 {
				behind[r] = left
			}
		}
	}
	return behind, nil
}

func (s *Store) zooKeeperChildren(ctx context.Context, path string) (map[string]string, error) {
	rows, err := s.conn.Query(ctx, zooKeeperChildrenSQL(path))
	if err != nil {
		return nil, fmt.Errorf("read zookeeper %s: %w", path, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("read zookeeper %s: %w", path, err)
		}
		out[name] = value
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read zookeeper %s: %w", path, err)
	}
	return out, nil
}

func describeBehind(behind map[string][]string) string {
	var rs []string
	for r, parts := range behind {
		rs = append(rs, fmt.Sprintf("replica %s: %d parts (%s)", r, len(parts), strings.Join(parts, ", ")))
	}
	sort.Strings(rs)
	return strings.Join(rs, "; ")
}
