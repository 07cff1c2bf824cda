// Package chaindigest keeps the signed checkpoints out of the database's reach: every
// checkpoint the collector signs is also delivered, in digest files, to sinks the database's
// users cannot write (an append-only directory, an HTTP receiver). Someone who rewrites the
// database, its records and its checkpoints cannot rewrite the digests, and verify compares
// the store with them (docs/TAMPER_EVIDENCE.md, "Digests").
//
// A digest is one JSON document per tenant and period:
//
//	{"format":"otelcol-audit digest v1","tenant":"acme","seq":"7","time":"<Unix ns>",
//	 "previous":"<SHA-256 of digest 6's bytes, hex>","checkpoints":[<PortableCheckpoint>,...]}
//
// followed by a newline. Each names the previous digest's hash (64 zeros for the first), so
// that a digest removed or edited afterwards breaks the digest chain.
package chaindigest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
)

// Format names the digest layout.
const Format = "otelcol-audit digest v1"

// Digest is one digest document.
type Digest struct {
	Format      string                     `json:"format"`
	Tenant      string                     `json:"tenant"`
	Seq         string                     `json:"seq"`
	Time        string                     `json:"time"`
	Previous    string                     `json:"previous"`
	Checkpoints []chain.PortableCheckpoint `json:"checkpoints"`
}

// Encode is the digest's bytes: what is stored and sent, and what the next digest's Previous
// is the SHA-256 of.
func Encode(tenant string, seq uint64, previous chain.Hash, now time.Time, cps []chain.Checkpoint) []byte {
	d := Digest{Format: Format, Tenant: tenant, Seq: strconv.FormatUint(seq, 10),
		Time: strconv.FormatInt(now.UnixNano(), 10), Previous: previous.String(),
		Checkpoints: make([]chain.PortableCheckpoint, len(cps))}
	for i, cp := range cps {
		d.Checkpoints[i] = cp.Portable()
	}
	b, _ := json.Marshal(d)
	return append(b, '\n')
}

// File is one digest file's name and bytes.
type File struct {
	Name string
	Data []byte
}

// Reasons verify gives when the store differs from its digests.
const (
	ReasonDigestChainBroken  = "digest chain broken: a digest file was removed, reordered or edited"
	ReasonCheckpointDeleted  = "checkpoint deleted from the store: a digest holds it"
	ReasonCheckpointRewriten = "checkpoint rewritten in the store: it differs from the one a digest holds"
)

// Chain checks that files (in name order, one tenant's) form an unbroken digest chain and
// returns the checkpoints they hold. A break is a finding; an error a file that is not a
// digest at all.
func Chain(tenant string, files []File) ([]chain.Checkpoint, *chain.Break, error) {
	var (
		out  []chain.Checkpoint
		prev chain.Hash
	)
	for i, f := range files {
		var d Digest
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, nil, fmt.Errorf("digest %s: %w", f.Name, err)
		}
		if d.Format != Format {
			return nil, nil, fmt.Errorf("digest %s: format %q, want %q", f.Name, d.Format, Format)
		}
		want := strconv.Itoa(i + 1)
		if d.Tenant != tenant || d.Seq != want || d.Previous != prev.String() {
			return nil, &chain.Break{RecordID: f.Name, Reason: ReasonDigestChainBroken,
				Expected: fmt.Sprintf("tenant %q, seq %s, previous %s", tenant, want, prev),
				Found:    fmt.Sprintf("tenant %q, seq %s, previous %s", d.Tenant, d.Seq, d.Previous)}, nil
		}
		for _, p := range d.Checkpoints {
			cp, err := p.Checkpoint()
			if err != nil {
				return nil, nil, fmt.Errorf("digest %s: %w", f.Name, err)
			}
			if cp.Tenant != tenant {
				return nil, &chain.Break{Seq: cp.Seq, RecordID: f.Name, Reason: ReasonDigestChainBroken,
					Expected: "checkpoints of " + tenant, Found: "a checkpoint of " + cp.Tenant}, nil
			}
			out = append(out, cp)
		}
		prev = sha256.Sum256(f.Data)
	}
	return out, nil, nil
}

// Compare finds the first digest checkpoint the store no longer holds as it was signed: one
// deleted from the store, or one whose head, kind, cutoffs or signature were changed.
// Checkpoints are matched by seq and time, which a rewrite keeps to look like the original.
func Compare(digests, stored []chain.Checkpoint) *chain.Break {
	for _, d := range digests {
		found := false
		for _, s := range stored {
			if s.Seq != d.Seq || !s.Time.Equal(d.Time) {
				continue
			}
			found = true
			if !s.Same(d) {
				return &chain.Break{Seq: d.Seq, Reason: ReasonCheckpointRewriten,
					Expected: summary(d), Found: summary(s)}
			}
		}
		if !found {
			return &chain.Break{Seq: d.Seq, Reason: ReasonCheckpointDeleted, Expected: summary(d)}
		}
	}
	return nil
}

func summary(c chain.Checkpoint) string {
	s := fmt.Sprintf("%s checkpoint at seq %d, head %s", c.Kind, c.Seq, c.Head)
	if c.KeyID != "" {
		s += ", key " + c.KeyID + ", signature " + hex.EncodeToString(c.Signature[:min(8, len(c.Signature))]) + "..."
	}
	return s
}

func sha256Of(b []byte) chain.Hash { return sha256.Sum256(b) }
