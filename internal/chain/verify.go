package chain

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// Source is what verify reads from a store.
type Source interface {
	// ChainLinks calls fn for the tenant's links with from <= Seq <= to in Seq order, each
	// with its record as stored, or nil when no record of that id is stored for the tenant.
	ChainLinks(ctx context.Context, tenant string, from, to uint64, fn func(Link, *record.Record) error) error
	// ChainHead is the tenant's last link; the zero Link when the tenant has none.
	ChainHead(ctx context.Context, tenant string) (Link, error)
	// Checkpoints returns the tenant's checkpoints in Seq order (then Time).
	Checkpoints(ctx context.Context, tenant string) ([]Checkpoint, error)
	// Unchained returns up to limit ids of the tenant's records stored after chaining began
	// that are on no link: rows written around the collector.
	Unchained(ctx context.Context, tenant string, limit int) ([]string, error)
}

// Break is the first place where the stored trail differs from what was committed.
type Break struct {
	Seq      uint64 `json:"seq"`
	RecordID string `json:"record_id,omitempty"`
	// Reason says what kind of tampering the difference shows.
	Reason   string `json:"reason"`
	Expected string `json:"expected,omitempty"`
	Found    string `json:"found,omitempty"`
}

func (b Break) String() string {
	s := fmt.Sprintf("seq %d", b.Seq)
	if b.RecordID != "" {
		s += fmt.Sprintf(" (record %s)", b.RecordID)
	}
	s += ": " + b.Reason
	if b.Expected != "" || b.Found != "" {
		s += fmt.Sprintf(": expected %s, found %s", b.Expected, b.Found)
	}
	return s
}

// Reasons a verification fails.
const (
	ReasonRecordAltered       = "record altered: its content no longer matches its chain link"
	ReasonRecordDeleted       = "record deleted: missing, and no signed retention run removed it"
	ReasonLinkAltered         = "chain link altered: its hash does not follow from the previous link"
	ReasonLinkMissing         = "chain link missing: a sequence number is absent"
	ReasonLinkDuplicated      = "chain link duplicated: two links share a sequence number"
	ReasonChainRewritten      = "chain rewritten: the recomputed head differs from a signed checkpoint"
	ReasonBadSignature        = "checkpoint signature invalid"
	ReasonUnchainedRecord     = "record inserted outside the chain"
	ReasonCheckpointTooFar    = "checkpoint beyond the chain head: links after it were removed"
	ReasonRecordTenantChange  = "record moved to another tenant"
	ReasonRecordUnreadable    = "record unreadable: the store cannot decode it, so its hash cannot be checked"
	ReasonUnsignedAfterSigned = "unsigned checkpoint after a signed one: a signature was removed, or signing was turned off"
	// ReasonVerifiedCheckpointChanged: an incremental verification's starting point is gone.
	ReasonVerifiedCheckpointChanged = "checkpoint changed since the last verification: the verified head was deleted or rewritten"
)

// Report is the outcome of one verification.
type Report struct {
	Tenant string `json:"tenant"`
	OK     bool   `json:"ok"`
	// From and To are the sequence range recomputed.
	From uint64 `json:"from_seq"`
	To   uint64 `json:"to_seq"`
	// ResumedAfter is the checkpoint an incremental verification started after (0: none):
	// the links up to it were recomputed by an earlier verification, not this one.
	ResumedAfter uint64 `json:"resumed_after_seq,omitempty"`
	// Records is how many links were checked; Pruned how many of them had their record
	// removed by a signed retention run.
	Records int `json:"records_checked"`
	Pruned  int `json:"records_pruned"`
	// Checkpoints is how many checkpoints in the range matched; Signed says whether their
	// signatures were checked (public keys were given).
	Checkpoints int  `json:"checkpoints_checked"`
	Signed      bool `json:"signatures_checked"`
	// With keys given: SignedCheckpoints verified under a given key, UnsignedCheckpoints
	// carry no signature (written before signing was turned on), UnknownKeys lists the key ids
	// of signatures no given key could check. SignedThrough is the highest seq a verified
	// signature covers: links up to it cannot be rewritten by someone without the keys.
	SignedCheckpoints   int      `json:"signed_checkpoints"`
	UnsignedCheckpoints int      `json:"unsigned_checkpoints"`
	UnknownKeys         []string `json:"unknown_keys,omitempty"`
	SignedThrough       uint64   `json:"signed_through_seq"`
	// Coverage says, for consecutive ranges of the chain up to its last checkpoint, what
	// vouches for them: "key <id>", "unsigned" or "unknown key <id>".
	Coverage []Span `json:"coverage,omitempty"`
	// UnsignedTail is how many links follow the last checkpoint: the part of the chain that
	// someone with database access could still rewrite undetected.
	UnsignedTail uint64 `json:"unsigned_tail"`
	// Digests is how many digest files kept outside the database were checked against the
	// store, and DigestedThrough the highest seq a checkpoint in them pins: a rewrite of
	// records or checkpoints up to it is found even by someone who rewrote every checkpoint
	// in the database.
	Digests          int           `json:"digests,omitempty"`
	DigestedThrough  uint64        `json:"digested_through_seq,omitempty"`
	FirstBroken      *Break        `json:"first_broken,omitempty"`
	Elapsed          time.Duration `json:"-"`
	ElapsedSeconds   float64       `json:"elapsed_seconds"`
	RecordsPerSecond float64       `json:"records_per_second"`
}

// Span is a range of chain sequence numbers and what vouches for it.
type Span struct {
	From uint64 `json:"from_seq"`
	To   uint64 `json:"to_seq"`
	By   string `json:"by"`
}

// Keyring holds the public keys verify accepts signatures from, by key id: the current key
// and those used before a rotation, so that history signed by an older key still verifies.
type Keyring map[string]ed25519.PublicKey

// NewKeyring returns a keyring of keys (nil keys are skipped).
func NewKeyring(keys ...ed25519.PublicKey) Keyring {
	k := Keyring{}
	for _, pub := range keys {
		if pub != nil {
			k[KeyID(pub)] = pub
		}
	}
	return k
}

// Range bounds a verification by commit time: the checkpoints at or before Start and at or
// after End delimit the links recomputed, so every record committed in [Start, End] is
// covered. Zero times mean the chain's start and its head.
type Range struct {
	Start, End time.Time
	// Full asks a verifier that keeps incremental state (the auditstore extension, auditctl
	// --state) to recompute the whole range anyway: the only way to find an old record edited
	// without touching its link after it was verified.
	Full bool
}

// Verify recomputes the tenant's chain over r from src, checking every stored record against
// its link, every link against the one before it and every checkpoint in the range against
// the recomputed head and, when keys are given, checks signatures (see CheckSignatures). It
// stops at the first break. An error is a failure to read, not a finding.
func Verify(ctx context.Context, src Source, keys Keyring, tenant string, r Range) (Report, error) {
	rep, _, err := VerifySince(ctx, src, keys, tenant, r, nil)
	return rep, err
}

// VerifySince is Verify resumed after since, a checkpoint an earlier verification of the
// tenant found intact (nil: from the range's start). It checks that since is still stored
// exactly as it was, that every signature verifies and that the links after it follow from its
// head, and recomputes only those links and their records: a chain recomputed through since
// breaks at the link after it, but a record before since edited without touching its link is
// found only by a full verification. It returns where the next verification can resume: the
// last checkpoint the walk matched that is signed by a given key (any matched one when no keys
// are given), or nil when the chain is broken.
func VerifySince(ctx context.Context, src Source, keys Keyring, tenant string, r Range, since *Resume) (Report, *Resume, error) {
	var (
		resume   *Resume
		position int64
		last     Link
	)
	rep, err := verifyChain(ctx, src, keys, tenant, r, since, func(cp Checkpoint) {
		if len(keys) == 0 || (keys[cp.KeyID] != nil && len(cp.Signature) > 0) {
			resume = &Resume{Checkpoint: cp}
		}
	}, &position, &last)
	if err != nil || !rep.OK {
		return rep, nil, err
	}
	if resume == nil && since != nil {
		resume = &Resume{Checkpoint: since.Checkpoint}
	}
	if resume != nil {
		resume.Position = position
		if last.Seq >= resume.Seq {
			resume.ThroughSeq, resume.ThroughHash = last.Seq, last.Hash
		}
	}
	return rep, resume, nil
}

// Resume is where an incremental verification starts: the checkpoint the last intact one
// reached, which must still be stored as it was; the last link it recomputed (ThroughSeq and
// ThroughHash, at or after the checkpoint), after which the next one resumes, so that its cost
// is the new links only; and the store position through which it looked for records outside
// the chain (UnchainedSinceSource; 0 looks at every record).
type Resume struct {
	Checkpoint
	ThroughSeq  uint64
	ThroughHash Hash
	Position    int64
}

// UnchainedSinceSource is a Source that can look for records outside the chain among only
// those stored after a position (SQLite: the row's seq), so that an incremental verification
// does not scan every record again. It returns the position it looked through. A row written
// directly with a position at or before after is found only by a full verification.
type UnchainedSinceSource interface {
	UnchainedSince(ctx context.Context, tenant string, after int64, limit int) (ids []string, through int64, err error)
}

func verifyChain(ctx context.Context, src Source, keys Keyring, tenant string, r Range, since *Resume, matched func(Checkpoint), position *int64, last *Link) (Report, error) {
	started := time.Now()
	rep := Report{Tenant: tenant, Signed: len(keys) > 0}
	finish := func(b *Break) (Report, error) {
		rep.FirstBroken = b
		rep.OK = b == nil
		rep.Elapsed = time.Since(started)
		rep.ElapsedSeconds = rep.Elapsed.Seconds()
		if rep.Elapsed > 0 {
			rep.RecordsPerSecond = float64(rep.Records) / rep.Elapsed.Seconds()
		}
		return rep, nil
	}

	cps, err := src.Checkpoints(ctx, tenant)
	if err != nil {
		return rep, err
	}
	head, err := src.ChainHead(ctx, tenant)
	if err != nil {
		return rep, err
	}
	if len(keys) > 0 {
		if b := CheckSignatures(cps, keys, &rep); b != nil {
			return finish(b)
		}
	}
	if last := lastCheckpoint(cps); last != nil {
		if last.Seq > head.Seq {
			return finish(&Break{Seq: last.Seq, Reason: ReasonCheckpointTooFar,
				Expected: fmt.Sprintf("a head at seq >= %d", last.Seq), Found: fmt.Sprintf("head at seq %d", head.Seq)})
		}
		rep.UnsignedTail = head.Seq - last.Seq
	} else {
		rep.UnsignedTail = head.Seq
	}

	var prev Link
	prev, rep.To = Window(cps, head, r)
	if since != nil {
		if !slices.ContainsFunc(cps, since.Same) {
			return finish(&Break{Seq: since.Seq, Reason: ReasonVerifiedCheckpointChanged, Expected: since.Head.String()})
		}
		start := Link{Seq: since.Seq, Hash: since.Head}
		if since.ThroughSeq > since.Seq {
			start = Link{Seq: since.ThroughSeq, Hash: since.ThroughHash}
		}
		if start.Seq > head.Seq {
			// Links an earlier verification recomputed are gone.
			return finish(&Break{Seq: head.Seq + 1, Reason: ReasonLinkMissing,
				Expected: fmt.Sprintf("links up to seq %d, verified before", start.Seq), Found: fmt.Sprintf("head at seq %d", head.Seq)})
		}
		if start.Seq > prev.Seq && start.Seq <= rep.To {
			prev = start
			rep.ResumedAfter = start.Seq
		}
	}
	rep.From = prev.Seq + 1
	*last = prev

	prunes := pruneCheckpoints(cps)
	bySeq := checkpointsBySeq(cps)
	var found *Break
	err = src.ChainLinks(ctx, tenant, rep.From, rep.To, func(l Link, rec *record.Record) error {
		if found = checkLink(prev, l, rec, prunes, &rep); found != nil {
			return errStop
		}
		for _, cp := range bySeq[l.Seq] {
			if cp.Head != l.Hash {
				found = &Break{Seq: l.Seq, RecordID: l.RecordID, Reason: ReasonChainRewritten,
					Expected: cp.Head.String(), Found: l.Hash.String()}
				return errStop
			}
			rep.Checkpoints++
			matched(cp)
		}
		prev = l
		*last = l
		return nil
	})
	switch {
	case errors.Is(err, errStop):
		return finish(found)
	case err != nil:
		return rep, err
	}
	if prev.Seq < rep.To {
		return finish(&Break{Seq: prev.Seq + 1, Reason: ReasonLinkMissing,
			Expected: fmt.Sprintf("links up to seq %d", rep.To), Found: fmt.Sprintf("the last at seq %d", prev.Seq)})
	}

	var unchained []string
	if us, ok := src.(UnchainedSinceSource); ok {
		var after int64
		if since != nil && rep.ResumedAfter > 0 {
			after = since.Position
		}
		unchained, *position, err = us.UnchainedSince(ctx, tenant, after, 1)
	} else {
		unchained, err = src.Unchained(ctx, tenant, 1)
	}
	if err != nil {
		return rep, err
	}
	if len(unchained) > 0 {
		return finish(&Break{RecordID: unchained[0], Reason: ReasonUnchainedRecord})
	}
	return finish(nil)
}

var errStop = errors.New("stop")

// Window is the part of the chain a verification over r recomputes: it starts after anchor,
// the last checkpoint at or before r.Start (trusted because its signature verifies; the genesis
// when there is none or no start was asked for), and ends at to, the first checkpoint at or
// after r.End (the head when there is none).
func Window(cps []Checkpoint, head Link, r Range) (anchor Link, to uint64) {
	if !r.Start.IsZero() {
		for _, cp := range cps {
			if !cp.Time.After(r.Start) && cp.Seq > anchor.Seq {
				anchor = Link{Seq: cp.Seq, Hash: cp.Head}
			}
		}
	}
	to = head.Seq
	if !r.End.IsZero() {
		for _, cp := range cps {
			if !cp.Time.Before(r.End) && cp.Seq > anchor.Seq {
				to = min(to, cp.Seq)
			}
		}
	}
	return anchor, to
}

// CheckSignatures checks every checkpoint's signature, in chain order, and fills the report's
// signature coverage. A chain may begin unsigned (signing turned on later): its unsigned
// checkpoints are reported, not broken. Once a checkpoint is signed, every later one must be
// too: an unsigned one then means a signature was stripped, or signing was turned off, and
// is a break, so that removing signatures cannot make a rewrite pass as old unsigned
// history. A signature by a key not in keys is not a finding (an older key after a rotation,
// when its public key was not given) but covers nothing, and is listed under UnknownKeys. A
// signature that does not verify under the key its key id names is a break.
func CheckSignatures(cps []Checkpoint, keys Keyring, rep *Report) *Break {
	ordered := slices.Clone(cps)
	slices.SortStableFunc(ordered, func(a, b Checkpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	signedSeen := false
	var prevSeq uint64
	for _, cp := range ordered {
		var by string
		switch {
		case len(cp.Signature) == 0 && cp.KeyID == "":
			if signedSeen {
				return &Break{Seq: cp.Seq, Reason: ReasonUnsignedAfterSigned}
			}
			rep.UnsignedCheckpoints++
			by = "unsigned"
		case keys[cp.KeyID] != nil:
			if err := cp.VerifySignature(keys[cp.KeyID]); err != nil {
				return &Break{Seq: cp.Seq, Reason: ReasonBadSignature, Found: err.Error()}
			}
			signedSeen = true
			rep.SignedCheckpoints++
			rep.SignedThrough = max(rep.SignedThrough, cp.Seq)
			by = "key " + cp.KeyID
		case cp.KeyID == "" || len(cp.Signature) == 0:
			return &Break{Seq: cp.Seq, Reason: ReasonBadSignature, Found: "a signature without a key id, or a key id without a signature"}
		default:
			signedSeen = true
			if !slices.Contains(rep.UnknownKeys, cp.KeyID) {
				rep.UnknownKeys = append(rep.UnknownKeys, cp.KeyID)
			}
			by = "unknown key " + cp.KeyID
		}
		if cp.Seq > prevSeq {
			if n := len(rep.Coverage); n > 0 && rep.Coverage[n-1].By == by {
				rep.Coverage[n-1].To = cp.Seq
			} else {
				rep.Coverage = append(rep.Coverage, Span{From: prevSeq + 1, To: cp.Seq, By: by})
			}
			prevSeq = cp.Seq
		}
	}
	return nil
}

// checkLink checks one link against the previous one and against its record.
func checkLink(prev, l Link, rec *record.Record, prunes []Checkpoint, rep *Report) *Break {
	switch {
	case l.Seq == prev.Seq && prev.Seq != 0:
		return &Break{Seq: l.Seq, RecordID: l.RecordID, Reason: ReasonLinkDuplicated}
	case l.Seq != prev.Seq+1:
		return &Break{Seq: prev.Seq + 1, Reason: ReasonLinkMissing,
			Expected: fmt.Sprintf("seq %d", prev.Seq+1), Found: fmt.Sprintf("seq %d", l.Seq)}
	}
	if want := l.chainHash(prev.Hash); want != l.Hash {
		return &Break{Seq: l.Seq, RecordID: l.RecordID, Reason: ReasonLinkAltered,
			Expected: want.String(), Found: l.Hash.String()}
	}
	rep.Records++
	if rec == nil {
		if PrunedBy(l, prunes) {
			rep.Pruned++
			return nil
		}
		return &Break{Seq: l.Seq, RecordID: l.RecordID, Reason: ReasonRecordDeleted}
	}
	if rec.TenantID != l.Tenant && PrunedBy(l, prunes) {
		// Ids are unique per tenant: another tenant may hold a record of the same id while
		// this tenant's record was removed by retention.
		rep.Pruned++
		return nil
	}
	if rec.TenantID != l.Tenant {
		return &Break{Seq: l.Seq, RecordID: l.RecordID, Reason: ReasonRecordTenantChange,
			Expected: l.Tenant, Found: rec.TenantID}
	}
	if rec.ReadError != "" {
		return &Break{Seq: l.Seq, RecordID: l.RecordID, Reason: ReasonRecordUnreadable, Found: rec.ReadError}
	}
	if got := RecordHash(*rec); got != l.RecordHash {
		return &Break{Seq: l.Seq, RecordID: l.RecordID, Reason: ReasonRecordAltered,
			Expected: l.RecordHash.String(), Found: got.String()}
	}
	return nil
}

// PrunedBy reports whether a retention run after the link was committed expired it: its
// checkpoint is at or after the link, and its cutoff for the link's level is after the
// link's timestamp (the link's level and timestamp are covered by its hash).
func PrunedBy(l Link, prunes []Checkpoint) bool {
	for _, cp := range prunes {
		if cp.Seq < l.Seq {
			continue
		}
		if cut, ok := cp.Cutoffs[l.Level]; ok && l.Timestamp.Before(cut) {
			return true
		}
	}
	return false
}

func pruneCheckpoints(cps []Checkpoint) []Checkpoint {
	var out []Checkpoint
	for _, cp := range cps {
		if cp.Kind == KindPrune {
			out = append(out, cp)
		}
	}
	return out
}

func checkpointsBySeq(cps []Checkpoint) map[uint64][]Checkpoint {
	out := make(map[uint64][]Checkpoint, len(cps))
	for _, cp := range cps {
		out[cp.Seq] = append(out[cp.Seq], cp)
	}
	return out
}

func lastCheckpoint(cps []Checkpoint) *Checkpoint {
	if len(cps) == 0 {
		return nil
	}
	last := slices.MaxFunc(cps, func(a, b Checkpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	return &last
}
