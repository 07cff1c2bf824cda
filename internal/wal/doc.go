// Package wal is the audit exporter's write-ahead log: an entry appended here is on disk
// before the exporter acknowledges the records it holds, and it is replayed after a crash
// until the exporter marks it done.
//
// # Life cycle
//
//	w, err := wal.Open(dir, wal.Options{})     // validates segment headers, refuses foreign files
//	stats, err := w.Replay(func(pos, payload)) // every entry not yet done; repairs torn tails
//	pos, err := w.Append(ctx, payload)         // returns once durable (SyncAlways)
//	err = w.Done(pos)                          // the entry's records are committed or dead-lettered
//	err = w.Close()                            // saves the low-water mark, fsyncs, closes; idempotent
//
// Replay must complete before Append: Append returns ErrNotReplayed until then, because
// appending first would hand out positions without knowing what the log already holds.
//
// # Layout
//
// A directory of numbered segment files (00000001.wal, 00000002.wal, ...) plus a
// low-water-mark file. Each segment starts with a 16-byte header (magic, version, its own
// number); a file with a segment name and any other header makes Open fail. Entries are
// framed with a sync marker, a type, the payload length and a CRC-32C covering type,
// length and payload. Entries never span segments; an entry larger than a segment is
// refused with ErrEntryTooLarge. README.md gives the format byte by byte.
//
// # Durability
//
// SyncAlways (the default) fsyncs before Append returns. Concurrent Appends share the
// cost: one caller leads a group, writing every waiting entry that fits in the active
// segment with one write(2) and one fsync, then hands leadership to the next waiter.
// SyncInterval returns after write(2) and fsyncs every SyncInterval: a process crash
// loses nothing, a power loss or kernel crash may lose the last interval.
//
// A failed write or fsync fails every Append of its group with a wrapped error and
// leaves no trace: the segment is truncated back to where the group began, and when
// that is not possible or the file's state is unknown (a failed fsync), the next group
// starts a new segment. Once space returns, Append works again.
//
// # Corruption
//
// Audit entries are independent, so corruption costs only the damaged bytes. Replay
// cuts an unreadable end of the last segment (a torn write: counted in
// ReplayStats.TornTails and logged). Anywhere else, an unreadable range is skipped by
// scanning forward to the next sync marker whose header and CRC check out; it is counted
// and described in ReplayStats.Corrupt (segment, offset, length, reason) and logged.
// An entry whose CRC does not check is never returned.
//
// # The low-water mark
//
// Done may be called in any order from any goroutine. The low-water mark is the lowest
// appended or replayed position not yet done. Every MarkInterval (and on Close) the
// WAL persists the mark atomically (temp file, fsync, rename, directory fsync) and
// deletes the segments entirely below it; the active segment is never deleted. A restart
// replays from the mark: entries above it that were already done before the crash are
// replayed again, which is harmless because the store ignores records whose id it holds.
package wal
