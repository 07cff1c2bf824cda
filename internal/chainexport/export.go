// Package chainexport writes and verifies an evidence export: one tenant's records over a
// range of its hash chain, with the links, checkpoints, digests and public keys that let an
// auditor check them without this code or the database (docs/TAMPER_EVIDENCE.md, "Exports").
//
// An export is a directory of plain files:
//
//	manifest.json       what the export holds, and the SHA-256 of every other file
//	links.ndjson        the chain links of the range, in seq order
//	records.ndjson      the stored records, each in its canonical encoding, one per line
//	checkpoints.ndjson  the checkpoints that pin the range (PortableCheckpoint)
//	keys.json           the public keys that signed them, with their key ids
//	digests/            the tenant's digest files, when a digest directory was given
package chainexport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Format names the export layout; verifiers refuse any other.
const Format = "otelcol-audit export v1"

// File names inside an export.
const (
	ManifestFile    = "manifest.json"
	LinksFile       = "links.ndjson"
	RecordsFile     = "records.ndjson"
	CheckpointsFile = "checkpoints.ndjson"
	KeysFile        = "keys.json"
	DigestsDir      = "digests"
)

// maxUnchained bounds how many records stored outside the chain an export carries: one is
// enough to prove the tampering, a few help to see its extent.
const maxUnchained = 100

// Manifest describes an export. Its 64-bit integers are decimal strings, like the other
// files'. It is not signed: what it says about the range is checked against the signed
// checkpoints, and its file digests only catch damage in transit.
type Manifest struct {
	Format string `json:"format"`
	Tenant string `json:"tenant"`
	// Created is when the export was written (RFC 3339), for people.
	Created string `json:"created"`
	// Start and End are the commit-time range asked for (RFC 3339, "" for open).
	Start string `json:"start"`
	End   string `json:"end"`
	// AnchorSeq and AnchorHash are where the links begin: the first link follows the head
	// AnchorHash at AnchorSeq, which a checkpoint in the export pins (or the genesis: "0" and
	// 64 zeros).
	AnchorSeq  string `json:"anchor_seq"`
	AnchorHash string `json:"anchor_hash"`
	// ToSeq is the last link exported; HeadSeq the tenant's head when the export was written.
	ToSeq   string      `json:"to_seq"`
	HeadSeq string      `json:"head_seq"`
	Files   []FileEntry `json:"files"`
}

// FileEntry is one file of the export and its SHA-256.
type FileEntry struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// LinkLine is one line of links.ndjson.
type LinkLine struct {
	Seq        string `json:"seq"`
	RecordID   string `json:"record_id"`
	Timestamp  string `json:"timestamp"`
	Level      int    `json:"level"`
	RecordHash string `json:"record_hash"`
	Hash       string `json:"hash"`
}

// KeyEntry is one public key in keys.json.
type KeyEntry struct {
	KeyID string `json:"key_id"`
	// PublicKey is the PKIX PEM of the Ed25519 key (what `openssl pkey -pubout` writes).
	PublicKey string `json:"public_key"`
}

// Options say what to export.
type Options struct {
	Tenant string
	// Range is by commit time, as chain.Verify reads it: from the last checkpoint at or
	// before Start to the first at or after End, so every record committed in it is pinned.
	Range chain.Range
	// Keys are the public keys to include (the verifier may bring its own instead).
	Keys []ed25519.PublicKey
	// Digests are the tenant's digest files (name and content), included as they are.
	Digests []DigestFile
	// Now is the creation time; zero means time.Now.
	Now time.Time
}

// DigestFile is one digest file carried in an export.
type DigestFile struct {
	Name string
	Data []byte
}

// ErrNoChain is an export of a tenant that has no chain.
var ErrNoChain = errors.New("export: the tenant has no chain")

// Getter reads one stored record (store.Store.Get), for the records outside the chain.
type Getter func(ctx context.Context, tenant, id string) (record.Record, error)

// Write writes the export of o into dir, which must not exist or be empty.
func Write(ctx context.Context, dir string, src chain.Source, get Getter, o Options) (Manifest, error) {
	m := Manifest{Format: Format, Tenant: o.Tenant}
	if o.Tenant == "" {
		return m, errors.New("export: a tenant is required: a chain belongs to one tenant")
	}
	if err := emptyDir(dir); err != nil {
		return m, err
	}
	cps, err := src.Checkpoints(ctx, o.Tenant)
	if err != nil {
		return m, err
	}
	head, err := src.ChainHead(ctx, o.Tenant)
	if err != nil {
		return m, err
	}
	if head.Seq == 0 {
		return m, fmt.Errorf("%w: %q", ErrNoChain, o.Tenant)
	}
	anchor, to := chain.Window(cps, head, o.Range)
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	m.Created = now.UTC().Format(time.RFC3339Nano)
	m.Start, m.End = rfc3339(o.Range.Start), rfc3339(o.Range.End)
	m.AnchorSeq, m.AnchorHash = strconv.FormatUint(anchor.Seq, 10), anchor.Hash.String()
	m.ToSeq, m.HeadSeq = strconv.FormatUint(to, 10), strconv.FormatUint(head.Seq, 10)

	// Links and records are streamed to their files: a chain may not fit in memory.
	links, err := createHashed(dir, LinksFile)
	if err != nil {
		return m, err
	}
	defer links.abort()
	recs, err := createHashed(dir, RecordsFile)
	if err != nil {
		return m, err
	}
	defer recs.abort()
	written := map[string]bool{} // tenant and id of each record line
	err = src.ChainLinks(ctx, o.Tenant, anchor.Seq+1, to, func(l chain.Link, rec *record.Record) error {
		line, _ := json.Marshal(LinkLine{Seq: strconv.FormatUint(l.Seq, 10), RecordID: l.RecordID,
			Timestamp: strconv.FormatInt(nanos(l.Timestamp), 10), Level: int(l.Level),
			RecordHash: l.RecordHash.String(), Hash: l.Hash.String()})
		links.Write(line)
		links.WriteByte('\n')
		if rec != nil && !written[rec.TenantID+"\x00"+rec.ID] {
			written[rec.TenantID+"\x00"+rec.ID] = true
			recs.Write(chain.Canonical(*rec))
			recs.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("export: %w", err)
	}
	// Records stored around the chain are evidence too: the verifier reports them.
	unchained, err := src.Unchained(ctx, o.Tenant, maxUnchained)
	if err != nil {
		return m, fmt.Errorf("export: %w", err)
	}
	for _, id := range unchained {
		rec, err := get(ctx, o.Tenant, id)
		if err != nil {
			return m, fmt.Errorf("export: record %q outside the chain: %w", id, err)
		}
		recs.Write(chain.Canonical(rec))
		recs.WriteByte('\n')
	}

	var cpLines bytes.Buffer
	for _, cp := range Covering(cps, anchor.Seq, to) {
		line, _ := json.Marshal(cp.Portable())
		cpLines.Write(line)
		cpLines.WriteByte('\n')
	}
	keys := make([]KeyEntry, 0, len(o.Keys))
	for _, pub := range o.Keys {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return m, fmt.Errorf("export: public key: %w", err)
		}
		keys = append(keys, KeyEntry{KeyID: chain.KeyID(pub), PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	}
	keyDoc, _ := json.MarshalIndent(keys, "", "  ")

	for _, h := range []*hashedFile{links, recs} {
		entry, err := h.finish()
		if err != nil {
			return m, err
		}
		m.Files = append(m.Files, entry)
	}
	files := []struct {
		name string
		data []byte
	}{{CheckpointsFile, cpLines.Bytes()}, {KeysFile, append(keyDoc, '\n')}}
	for _, d := range o.Digests {
		files = append(files, struct {
			name string
			data []byte
		}{DigestsDir + "/" + d.Name, d.Data})
	}
	if len(o.Digests) > 0 {
		if err := os.Mkdir(filepath.Join(dir, DigestsDir), 0o750); err != nil {
			return m, fmt.Errorf("export: %w", err)
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(f.name)), f.data, 0o640); err != nil {
			return m, fmt.Errorf("export: %w", err)
		}
		sum := sha256.Sum256(f.data)
		m.Files = append(m.Files, FileEntry{Name: f.name, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(f.data))})
	}
	doc, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(doc, '\n'), 0o640); err != nil {
		return m, fmt.Errorf("export: %w", err)
	}
	return m, nil
}

// hashedFile is an export file written through a buffer while its SHA-256 and size are kept.
type hashedFile struct {
	name string
	f    *os.File
	w    *bufio.Writer
	h    hash.Hash
	n    int64
	done bool
}

func createHashed(dir, name string) (*hashedFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	h := &hashedFile{name: name, f: f, h: sha256.New()}
	h.w = bufio.NewWriterSize(io.MultiWriter(f, h.h), 256<<10)
	return h, nil
}

// Write adds to the file; errors surface at finish (bufio keeps the first).
func (h *hashedFile) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.w.Write(p)
}

func (h *hashedFile) WriteByte(c byte) error {
	h.n++
	return h.w.WriteByte(c)
}

func (h *hashedFile) finish() (FileEntry, error) {
	h.done = true
	err := h.w.Flush()
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return FileEntry{}, fmt.Errorf("export: %s: %w", h.name, err)
	}
	return FileEntry{Name: h.name, SHA256: hex.EncodeToString(h.h.Sum(nil)), Bytes: h.n}, nil
}

// abort closes a file that finish did not.
func (h *hashedFile) abort() {
	if !h.done {
		_ = h.f.Close()
	}
}

// Covering is the checkpoints an export of the links after anchor up to to carries: those
// from the anchor to the last link, which pin them, and the retention (prune) checkpoints
// after it, which may have expired records of the range. Seq order, then time.
func Covering(cps []chain.Checkpoint, anchor, to uint64) []chain.Checkpoint {
	var out []chain.Checkpoint
	for _, cp := range cps {
		if cp.Seq >= anchor && (cp.Seq <= to || cp.Kind == chain.KindPrune) {
			out = append(out, cp)
		}
	}
	slices.SortStableFunc(out, func(a, b chain.Checkpoint) int {
		if a.Seq != b.Seq {
			if a.Seq < b.Seq {
				return -1
			}
			return 1
		}
		return a.Time.Compare(b.Time)
	})
	return out
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("export: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("export: %s is not empty: an export never overwrites files", dir)
	}
	return nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// nanos is Unix nanoseconds, 0 for the zero time, as the link hash reads the timestamp.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
