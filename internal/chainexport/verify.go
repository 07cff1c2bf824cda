package chainexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chaindigest"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Reasons only an export can show.
const (
	ReasonFileAltered    = "export file altered: its SHA-256 differs from the manifest"
	ReasonAnchorUnpinned = "export anchor not pinned: no checkpoint in the export has the anchor's seq and head"
)

// Export is a read export, ready to verify.
type Export struct {
	Manifest    Manifest
	Links       []LinkLine
	Records     []RecordLine
	Checkpoints []chain.Checkpoint
	// Keys are keys.json's, by the id computed from each key.
	Keys chain.Keyring
	// files holds each file's bytes, by manifest name.
	files map[string][]byte
}

// RecordLine is one line of records.ndjson: its bytes (without the newline), which the link's
// record hash covers, and the two fields verify matches it to a link by.
type RecordLine struct {
	Canonical []byte
	ID        string `json:"id"`
	TenantID  string `json:"tenant_id"`
}

// Read reads the export in dir. An error means it cannot be verified at all (a missing file,
// a line that is not JSON); tampering with well-formed content is Verify's finding.
func Read(dir string) (*Export, error) {
	x := &Export{files: map[string][]byte{}, Keys: chain.Keyring{}}
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := json.Unmarshal(data, &x.Manifest); err != nil {
		return nil, fmt.Errorf("export: %s: %w", ManifestFile, err)
	}
	if x.Manifest.Format != Format {
		return nil, fmt.Errorf("export: %s: format %q, want %q", ManifestFile, x.Manifest.Format, Format)
	}
	for _, f := range x.Manifest.Files {
		// Names are relative paths inside the export: nothing may point outside it.
		if f.Name == "" || path.IsAbs(f.Name) || strings.Contains(f.Name, "..") || strings.Contains(f.Name, "\\") {
			return nil, fmt.Errorf("export: %s: file name %q: want a relative path inside the export", ManifestFile, f.Name)
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		x.files[f.Name] = b
	}
	for _, name := range []string{LinksFile, RecordsFile, CheckpointsFile, KeysFile} {
		if _, ok := x.files[name]; !ok {
			return nil, fmt.Errorf("export: %s does not list %s", ManifestFile, name)
		}
	}
	for i, line := range lines(x.files[LinksFile]) {
		var l LinkLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("export: %s line %d: %w", LinksFile, i+1, err)
		}
		x.Links = append(x.Links, l)
	}
	for i, line := range lines(x.files[RecordsFile]) {
		r := RecordLine{Canonical: line}
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("export: %s line %d: %w", RecordsFile, i+1, err)
		}
		x.Records = append(x.Records, r)
	}
	for i, line := range lines(x.files[CheckpointsFile]) {
		var p chain.PortableCheckpoint
		if err := json.Unmarshal(line, &p); err != nil {
			return nil, fmt.Errorf("export: %s line %d: %w", CheckpointsFile, i+1, err)
		}
		cp, err := p.Checkpoint()
		if err != nil {
			return nil, fmt.Errorf("export: %s line %d: %w", CheckpointsFile, i+1, err)
		}
		x.Checkpoints = append(x.Checkpoints, cp)
	}
	var keys []KeyEntry
	if err := json.Unmarshal(x.files[KeysFile], &keys); err != nil {
		return nil, fmt.Errorf("export: %s: %w", KeysFile, err)
	}
	for _, k := range keys {
		pub, err := chain.ParsePublicKeyPEM([]byte(k.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("export: %s: key %s: %w", KeysFile, k.KeyID, err)
		}
		if id := chain.KeyID(pub); id != k.KeyID {
			return nil, fmt.Errorf("export: %s: key listed as %s has the id %s", KeysFile, k.KeyID, id)
		}
		x.Keys[k.KeyID] = pub
	}
	return x, nil
}

// lines splits NDJSON into its lines, each without its newline; an empty file has none.
func lines(b []byte) [][]byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(b, []byte("\n"))
}

// Verify checks the export the way docs/TAMPER_EVIDENCE.md ("Verifying an export") specifies
// step by step, so that an independent verifier written from that text reaches the same
// finding: file digests, signatures, the anchor, every link and record, the checkpoints, and
// the records outside the chain. keys are the public keys to trust; nil trusts keys.json's.
// An error means a value is malformed (the export cannot be checked), not tampering.
func (x *Export) Verify(keys chain.Keyring) (chain.Report, error) {
	started := time.Now()
	rep := chain.Report{Tenant: x.Manifest.Tenant}
	finish := func(b *chain.Break) (chain.Report, error) {
		rep.FirstBroken, rep.OK = b, b == nil
		rep.Elapsed = time.Since(started)
		rep.ElapsedSeconds = rep.Elapsed.Seconds()
		if rep.Elapsed > 0 {
			rep.RecordsPerSecond = float64(rep.Records) / rep.Elapsed.Seconds()
		}
		return rep, nil
	}
	if keys == nil {
		keys = x.Keys
	}
	rep.Signed = len(keys) > 0

	// 1. Every file is the one the manifest names.
	for _, f := range x.Manifest.Files {
		sum := sha256.Sum256(x.files[f.Name])
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			return finish(&chain.Break{RecordID: f.Name, Reason: ReasonFileAltered, Expected: f.SHA256, Found: hex.EncodeToString(sum[:])})
		}
	}
	// 2. Signatures, in chain order.
	cps := slices.Clone(x.Checkpoints)
	slices.SortStableFunc(cps, func(a, b chain.Checkpoint) int {
		if a.Seq != b.Seq {
			return cmpUint(a.Seq, b.Seq)
		}
		return a.Time.Compare(b.Time)
	})
	for _, cp := range cps {
		if cp.Tenant != x.Manifest.Tenant {
			return rep, fmt.Errorf("export: a checkpoint of tenant %q in the export of %q", cp.Tenant, x.Manifest.Tenant)
		}
	}
	if len(keys) > 0 {
		if b := chain.CheckSignatures(cps, keys, &rep); b != nil {
			return finish(b)
		}
	}
	anchorSeq, err := strconv.ParseUint(x.Manifest.AnchorSeq, 10, 64)
	if err != nil {
		return rep, fmt.Errorf("export: %s: anchor_seq %q: want a decimal integer", ManifestFile, x.Manifest.AnchorSeq)
	}
	anchorHash, err := chain.ParseHash(x.Manifest.AnchorHash)
	if err != nil {
		return rep, fmt.Errorf("export: %s: anchor_hash: %w", ManifestFile, err)
	}
	last := anchorSeq
	if n := len(x.Links); n > 0 {
		if last, err = strconv.ParseUint(x.Links[n-1].Seq, 10, 64); err != nil {
			return rep, fmt.Errorf("export: %s line %d: seq %q: want a decimal integer", LinksFile, n, x.Links[n-1].Seq)
		}
	}
	// 3. The digests, when the export carries them: an unbroken digest chain, and every
	// checkpoint they hold between the anchor and the last link present as it was signed.
	if files := x.digestFiles(); len(files) > 0 {
		held, brk, err := chaindigest.Chain(x.Manifest.Tenant, files)
		if err != nil {
			return rep, fmt.Errorf("export: %w", err)
		}
		if brk == nil {
			var inRange []chain.Checkpoint
			for _, cp := range held {
				if cp.Seq >= anchorSeq && cp.Seq <= last {
					inRange = append(inRange, cp)
				}
			}
			brk = chaindigest.Compare(inRange, cps)
		}
		if brk != nil {
			return finish(brk)
		}
		rep.Digests = len(files)
		for _, cp := range held {
			rep.DigestedThrough = max(rep.DigestedThrough, cp.Seq)
		}
	}
	// 4. The anchor: the genesis, or a checkpoint's head.
	if anchorSeq == 0 && anchorHash != (chain.Hash{}) ||
		anchorSeq > 0 && !slices.ContainsFunc(cps, func(cp chain.Checkpoint) bool { return cp.Seq == anchorSeq && cp.Head == anchorHash }) {
		return finish(&chain.Break{Seq: anchorSeq, Reason: ReasonAnchorUnpinned, Found: anchorHash.String()})
	}
	// 5. No checkpoint but a retention one lies beyond the last link.
	var lastCp uint64
	for _, cp := range cps {
		if cp.Seq > last && cp.Kind != chain.KindPrune {
			return finish(&chain.Break{Seq: cp.Seq, Reason: chain.ReasonCheckpointTooFar,
				Expected: fmt.Sprintf("a head at seq >= %d", cp.Seq), Found: fmt.Sprintf("head at seq %d", last)})
		}
		if cp.Seq <= last {
			lastCp = max(lastCp, cp.Seq)
		}
	}
	rep.UnsignedTail = last - max(lastCp, anchorSeq)
	rep.From, rep.To = anchorSeq+1, last

	// 6. The links, in file order, each against the one before and against its record.
	byKey := map[string]*RecordLine{}
	byID := map[string]*RecordLine{}
	onChain := map[*RecordLine]bool{}
	for i := range x.Records {
		r := &x.Records[i]
		if k := r.TenantID + "\x00" + r.ID; byKey[k] == nil {
			byKey[k] = r
		}
		if byID[r.ID] == nil {
			byID[r.ID] = r
		}
	}
	var prunes []chain.Checkpoint
	bySeq := map[uint64][]chain.Checkpoint{}
	for _, cp := range cps {
		if cp.Kind == chain.KindPrune {
			prunes = append(prunes, cp)
		}
		bySeq[cp.Seq] = append(bySeq[cp.Seq], cp)
	}
	prev := chain.Link{Seq: anchorSeq, Hash: anchorHash}
	for i, ll := range x.Links {
		l, err := ll.link(x.Manifest.Tenant)
		if err != nil {
			return rep, fmt.Errorf("export: %s line %d: %w", LinksFile, i+1, err)
		}
		rec := byKey[l.Tenant+"\x00"+l.RecordID]
		if rec == nil {
			rec = byID[l.RecordID]
		}
		if rec != nil {
			onChain[rec] = true
		}
		if b := checkLink(prev, l, rec, prunes, &rep); b != nil {
			return finish(b)
		}
		for _, cp := range bySeq[l.Seq] {
			if cp.Head != l.Hash {
				return finish(&chain.Break{Seq: l.Seq, RecordID: l.RecordID, Reason: chain.ReasonChainRewritten,
					Expected: cp.Head.String(), Found: l.Hash.String()})
			}
			rep.Checkpoints++
		}
		prev = l
	}
	// 7. Every record line is some link's record.
	for i := range x.Records {
		if !onChain[&x.Records[i]] {
			return finish(&chain.Break{RecordID: x.Records[i].ID, Reason: chain.ReasonUnchainedRecord})
		}
	}
	return finish(nil)
}

// digestFiles are the export's digests in name order, named as in their directory.
func (x *Export) digestFiles() []chaindigest.File {
	var out []chaindigest.File
	for _, f := range x.Manifest.Files {
		if name, ok := strings.CutPrefix(f.Name, DigestsDir+"/"); ok {
			out = append(out, chaindigest.File{Name: name, Data: x.files[f.Name]})
		}
	}
	slices.SortFunc(out, func(a, b chaindigest.File) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// checkLink is chain.Verify's check of one link for an export: the record is its line, and
// its digest is the SHA-256 of the line's bytes.
func checkLink(prev, l chain.Link, rec *RecordLine, prunes []chain.Checkpoint, rep *chain.Report) *chain.Break {
	switch {
	case l.Seq == prev.Seq && prev.Seq != 0:
		return &chain.Break{Seq: l.Seq, RecordID: l.RecordID, Reason: chain.ReasonLinkDuplicated}
	case l.Seq != prev.Seq+1:
		return &chain.Break{Seq: prev.Seq + 1, Reason: chain.ReasonLinkMissing,
			Expected: fmt.Sprintf("seq %d", prev.Seq+1), Found: fmt.Sprintf("seq %d", l.Seq)}
	}
	if want := l.HashAfter(prev.Hash); want != l.Hash {
		return &chain.Break{Seq: l.Seq, RecordID: l.RecordID, Reason: chain.ReasonLinkAltered,
			Expected: want.String(), Found: l.Hash.String()}
	}
	rep.Records++
	if rec == nil || rec.TenantID != l.Tenant {
		if chain.PrunedBy(l, prunes) {
			rep.Pruned++
			return nil
		}
		if rec == nil {
			return &chain.Break{Seq: l.Seq, RecordID: l.RecordID, Reason: chain.ReasonRecordDeleted}
		}
		return &chain.Break{Seq: l.Seq, RecordID: l.RecordID, Reason: chain.ReasonRecordTenantChange,
			Expected: l.Tenant, Found: rec.TenantID}
	}
	if got := chain.Hash(sha256.Sum256(rec.Canonical)); got != l.RecordHash {
		return &chain.Break{Seq: l.Seq, RecordID: l.RecordID, Reason: chain.ReasonRecordAltered,
			Expected: l.RecordHash.String(), Found: got.String()}
	}
	return nil
}

func (ll LinkLine) link(tenant string) (chain.Link, error) {
	l := chain.Link{Tenant: tenant, RecordID: ll.RecordID, Level: record.Level(ll.Level)}
	var err error
	if l.Seq, err = strconv.ParseUint(ll.Seq, 10, 64); err != nil {
		return l, fmt.Errorf("seq %q: want a decimal integer", ll.Seq)
	}
	ts, err := strconv.ParseInt(ll.Timestamp, 10, 64)
	if err != nil {
		return l, fmt.Errorf("timestamp %q: want Unix nanoseconds in decimal", ll.Timestamp)
	}
	if ts != 0 {
		l.Timestamp = time.Unix(0, ts).UTC()
	}
	if ll.Level < 0 || ll.Level > 255 {
		return l, fmt.Errorf("level %d: want 1 to 5", ll.Level)
	}
	if l.RecordHash, err = chain.ParseHash(ll.RecordHash); err != nil {
		return l, err
	}
	if l.Hash, err = chain.ParseHash(ll.Hash); err != nil {
		return l, err
	}
	return l, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
