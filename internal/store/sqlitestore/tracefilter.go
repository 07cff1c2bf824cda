package sqlitestore

// Trace filters: a Bloom filter of the trace ids in a sealed partition, so that a trace lookup
// asks only the partitions that may hold the trace. Without them a lookup seeks the trace index
// of every partition: 200 seeks at 10M rows, most of them reads from disk once the OS cache has
// moved on, which made the trace lookup the one indexed query over 50 ms at p99 on 10M rows
// (README.md, Partitions, "Trace filters").
//
// A filter can answer "maybe" for a trace the partition does not hold (about 1 in 100 here),
// never "no" for one it holds: it is built from the partition's trace index once nothing can be
// inserted there any more (the partition is sealed), and retention only deletes rows, which
// leaves bits for trace ids that are gone, never the reverse. It is kept in the partition's own
// file (table trace_filter, schema v9), so that it goes with the file and a restart or a
// read-only follower reads it instead of building it again.

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

const (
	// traceFilterBitsPerID and traceFilterHashes give a false-positive rate of about 0.8%:
	// with 200 sealed partitions a lookup of a trace held by one of them asks two or three.
	traceFilterBitsPerID = 10
	traceFilterHashes    = 7
	// traceFilterVersion is the first byte of the stored form.
	traceFilterVersion = 1
)

// traceFilter is a Bloom filter over trace ids. It is not changed once built, so readers share
// it without a lock.
type traceFilter struct {
	words  []uint64
	hashes uint32
}

// newTraceFilter returns an empty filter sized for n trace ids.
func newTraceFilter(n int) *traceFilter {
	words := max(1, (n*traceFilterBitsPerID+63)/64)
	return &traceFilter{words: make([]uint64, words), hashes: traceFilterHashes}
}

// traceHash is the trace id's 64-bit FNV-1a hash. It is part of the stored form: a filter
// written by one build is read by the next, so it must not change (no per-process seed).
func traceHash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

// probes calls f with each of the filter's bit positions for hash h: double hashing, the second
// hash derived from the first by a 64-bit mix (splitmix64's finalizer), odd so that it cycles
// through every position.
func (f *traceFilter) probes(h uint64, each func(bit uint64) bool) bool {
	h2 := h
	h2 ^= h2 >> 30
	h2 *= 0xbf58476d1ce4e5b9
	h2 ^= h2 >> 27
	h2 *= 0x94d049bb133111eb
	h2 ^= h2 >> 31
	h2 |= 1
	m := uint64(len(f.words)) * 64
	for i := uint64(0); i < uint64(f.hashes); i++ {
		if !each((h + i*h2) % m) {
			return false
		}
	}
	return true
}

func (f *traceFilter) addHash(h uint64) {
	f.probes(h, func(bit uint64) bool {
		f.words[bit/64] |= 1 << (bit % 64)
		return true
	})
}

// mayHold reports whether the partition may hold records of trace id; false is certain.
func (f *traceFilter) mayHold(id string) bool {
	return f.probes(traceHash(id), func(bit uint64) bool {
		return f.words[bit/64]&(1<<(bit%64)) != 0
	})
}

// bytes is the filter's stored form: version, number of hashes, number of words (uint32), the
// words, then a CRC-32C of all that, all little-endian.
func (f *traceFilter) bytes() []byte {
	out := make([]byte, 0, 6+8*len(f.words)+4)
	out = append(out, traceFilterVersion, byte(f.hashes))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(f.words)))
	for _, w := range f.words {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTraceFilterDamaged says a stored filter cannot be trusted: a damaged filter could answer
// "no" for a trace the partition holds, so it is never used (the writer builds it again).
var errTraceFilterDamaged = errors.New("trace filter is damaged")

// parseTraceFilter reads the stored form written by bytes.
func parseTraceFilter(b []byte) (*traceFilter, error) {
	if len(b) < 10 {
		return nil, fmt.Errorf("%w: %d bytes", errTraceFilterDamaged, len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errTraceFilterDamaged)
	}
	if body[0] != traceFilterVersion {
		return nil, fmt.Errorf("%w: version %d", errTraceFilterDamaged, body[0])
	}
	hashes, words := uint32(body[1]), int(binary.LittleEndian.Uint32(body[2:6]))
	if hashes == 0 || words == 0 || len(body) != 6+8*words {
		return nil, fmt.Errorf("%w: %d hashes, %d words in %d bytes", errTraceFilterDamaged, hashes, words, len(body))
	}
	f := &traceFilter{words: make([]uint64, words), hashes: hashes}
	for i := range f.words {
		f.words[i] = binary.LittleEndian.Uint64(body[6+8*i:])
	}
	return f, nil
}

// buildTraceFilter builds the filter of every trace id the file holds, walking its trace index.
// It reads through the writer's connection with a small page cache: a sealed partition's
// readers map the file (sealed_mmap_size), and the index pages they touched would stay in the
// RSS until their connections idle out; a sealed file's writer only ever prunes, so 1 MiB is
// all it needs, and its cache is freed after the walk.
func buildTraceFilter(ctx context.Context, st *Store) (*traceFilter, error) {
	conn, err := st.write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read trace ids: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = -1024`); err != nil {
		return nil, fmt.Errorf("read trace ids: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(ctx, `PRAGMA shrink_memory`) }()
	rows, err := conn.QueryContext(ctx, `SELECT DISTINCT trace_id FROM audit_logs WHERE trace_id <> ''`)
	if err != nil {
		return nil, fmt.Errorf("read trace ids: %w", err)
	}
	defer rows.Close()
	var hashes []uint64
	var id string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read trace ids: %w", err)
		}
		hashes = append(hashes, traceHash(id))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read trace ids: %w", err)
	}
	f := newTraceFilter(len(hashes))
	for _, h := range hashes {
		f.addHash(h)
	}
	return f, nil
}

// saveTraceFilter stores f in the file, replacing the one there.
func saveTraceFilter(ctx context.Context, st *Store, f *traceFilter) error {
	if _, err := st.write.ExecContext(ctx, `INSERT OR REPLACE INTO trace_filter (id, filter) VALUES (1, ?)`, f.bytes()); err != nil {
		return fmt.Errorf("store trace filter: %w", err)
	}
	return nil
}

// loadTraceFilter reads the filter stored in the file: nil without error when there is none.
func loadTraceFilter(ctx context.Context, st *Store) (*traceFilter, error) {
	var b []byte
	err := st.read.QueryRowContext(ctx, `SELECT filter FROM trace_filter WHERE id = 1`).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trace filter: %w", err)
	}
	return parseTraceFilter(b)
}
