package chaindigest

import (
	"context"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
)

// Verify verifies the tenant's chain in store against its digest files: the digest chain must
// be unbroken, every checkpoint a digest holds must still be in the store as it was signed, and
// the chain is then verified (chain.Verify) with the digests' checkpoints, and extra ones
// (checkpoint files), added to the store's, resumed after since (chain.VerifySince) when it is
// not nil. The report says how many digests were checked and up to which seq they pin the
// chain; the checkpoint returned is where the next verification can resume.
func Verify(ctx context.Context, store chain.Source, keys chain.Keyring, tenant string, r chain.Range, files []File, extra []chain.Checkpoint, since *chain.Resume) (chain.Report, *chain.Resume, error) {
	fail := func(b *chain.Break) (chain.Report, *chain.Resume, error) {
		return chain.Report{Tenant: tenant, Signed: len(keys) > 0, FirstBroken: b, Digests: len(files)}, nil, nil
	}
	digested, brk, err := Chain(tenant, files)
	if err != nil {
		return chain.Report{}, nil, err
	}
	if brk != nil {
		return fail(brk)
	}
	stored, err := store.Checkpoints(ctx, tenant)
	if err != nil {
		return chain.Report{}, nil, err
	}
	if brk := Compare(digested, stored); brk != nil {
		return fail(brk)
	}
	var pinned uint64
	for _, cp := range digested {
		pinned = max(pinned, cp.Seq)
	}
	rep, next, err := chain.VerifySince(ctx, chain.WithCheckpoints(store, append(extra, digested...)), keys, tenant, r, since)
	rep.Digests, rep.DigestedThrough = len(files), pinned
	return rep, next, err
}
