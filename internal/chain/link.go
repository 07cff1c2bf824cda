package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Hash is a SHA-256 digest.
type Hash [32]byte

// String is the digest in lower-case hex, the form the API, the files and the docs use.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads the hex form.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, &FormatError{What: "hash", Value: s, Want: "64 hex digits"}
	}
	copy(h[:], b)
	return h, nil
}

// Link is one record's place on its tenant's chain. The chain stores the record's digest,
// level and timestamp beside the record, so that a record removed by retention still leaves
// a verifiable link, and the retention rule that removed it can be checked.
type Link struct {
	Tenant     string
	Seq        uint64 // 1 for the tenant's first record, then +1 per record, no gaps
	RecordID   string
	Timestamp  time.Time // the record's timestamp
	Level      record.Level
	RecordHash Hash // RecordHash of the record
	Hash       Hash // the chain hash: Next(previous link's Hash, this link)
}

// Next links r onto the chain after prev (the zero Link before a tenant's first record) and
// returns its link:
//
//	Hash = SHA-256(prev.Hash || seq (8 bytes, big endian) || timestamp in Unix ns (8 bytes,
//	       big endian, two's complement) || level (1 byte) || len(id) (4 bytes, big endian)
//	       || id || SHA-256(Canonical(r)))
func Next(prev Link, r record.Record) Link {
	return NextHashed(prev, r, RecordHash(r))
}

// NextHashed is Next for a record whose RecordHash is already known. Computing the record
// hash (a canonical encoding and a SHA-256 of the whole record) is most of a link's cost and
// depends on nothing before it, so a store computes it before taking the writer's lock, and
// only the chain hash, which needs the previous link, inside its transaction.
func NextHashed(prev Link, r record.Record, recordHash Hash) Link {
	l := Link{
		Tenant:     r.TenantID,
		Seq:        prev.Seq + 1,
		RecordID:   r.ID,
		Timestamp:  r.Timestamp,
		Level:      r.Level,
		RecordHash: recordHash,
	}
	l.Hash = l.chainHash(prev.Hash)
	return l
}

// chainHash is the link's chain hash given the previous link's.
func (l Link) chainHash(prev Hash) Hash {
	buf := make([]byte, 0, 32+8+8+1+4+len(l.RecordID)+32)
	buf = append(buf, prev[:]...)
	buf = binary.BigEndian.AppendUint64(buf, l.Seq)
	buf = binary.BigEndian.AppendUint64(buf, uint64(unixNanos(l.Timestamp)))
	buf = append(buf, byte(l.Level))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(l.RecordID)))
	buf = append(buf, l.RecordID...)
	buf = append(buf, l.RecordHash[:]...)
	return sha256.Sum256(buf)
}

// NextAll links records onto the chain after head, in order, and returns their links. The
// records must carry their tenant already.
func NextAll(head Link, records []record.Record) []Link {
	links := make([]Link, len(records))
	for i := range records {
		links[i] = Next(head, records[i])
		head = links[i]
	}
	return links
}

// FormatError is a value that is not in the form a chain field needs.
type FormatError struct {
	What, Value, Want string
}

func (e *FormatError) Error() string {
	return "chain: " + e.What + " " + quote(e.Value) + ": want " + e.Want
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return `"` + s + `"`
}
