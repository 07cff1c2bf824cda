package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chaindigest"
	"github.com/otelcol-audit/otelcol-audit/internal/chainexport"
	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
	"github.com/otelcol-audit/otelcol-audit/internal/store/sqlitestore"
)

// exportTenant has every character the signed checkpoint bytes escape differently from the
// canonical record encoding, so a verifier that follows the wrong rule fails on a clean export.
const exportTenant = `acme <&> "eu" \ 東京`

// evidenceDB writes a real SQLite store: three signed checkpoints of exportTenant's 30
// records (with attributes that exercise the canonical encoding) and another tenant's chain.
func evidenceDB(t *testing.T) (db, keyPrefix, digests string, checkpointTimes []time.Time) {
	t.Helper()
	dir := t.TempDir()
	keyPrefix = filepath.Join(dir, "signing")
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"chain", "keygen", "--out", keyPrefix}, &out, &errOut), errOut.String())
	priv, err := chain.LoadPrivateKey(keyPrefix + ".pem")
	require.NoError(t, err)
	cfg := sqlitestore.DefaultConfig()
	cfg.Path = filepath.Join(dir, "audit.db")
	st, err := sqlitestore.Open(context.Background(), cfg)
	require.NoError(t, err)
	defer st.Close()
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	digests = filepath.Join(dir, "digests")
	w := chaindigest.NewWriter(&chaindigest.Dir{Path: digests}, nil, time.Minute, base)
	for batch := range 3 {
		recs := make([]record.Record, 10)
		for i := range recs {
			n := batch*10 + i
			recs[i] = record.Record{ID: fmt.Sprintf("rec-%02d", n), Timestamp: base.Add(time.Duration(n)*time.Second + 7),
				Level: record.Levels[n%len(record.Levels)], Message: fmt.Sprintf("m-%02d", n), Event: "login",
				ActorID: "u<1>&\u2028", Tags: []string{"a", "b\b\f"}, DurationMS: 1.5e-7 * float64(n),
				Attributes: map[string]any{"n": n, "big": int64(math.MaxInt64), "f": 0.1 * float64(n), "tiny": 1e-9,
					"huge": 1e22, "nested": map[string]any{"é": []any{true, nil, "x\u0001"}, "a": 2.0}},
				Resource: map[string]any{"service.name": "svc"}}
		}
		recs[1].DurationMS = math.Copysign(0, -1) // a double's -0, which JSON numbers elsewhere never are
		_, err := st.Insert(context.Background(), exportTenant, recs)
		require.NoError(t, err)
		at := base.Add(time.Duration(batch+1) * time.Hour)
		cp, _, err := store.WriteCheckpoint(context.Background(), st, chain.NewSigner(priv), exportTenant, chain.KindPeriodic, nil, 0, at)
		require.NoError(t, err)
		w.Add(cp)
		require.NoError(t, w.Flush(context.Background(), at, false))
		checkpointTimes = append(checkpointTimes, at)
	}
	_, err = st.Insert(context.Background(), "globex", []record.Record{{ID: "g-1", Timestamp: base, Level: record.LevelInfo, Message: "other tenant"}})
	require.NoError(t, err)
	return cfg.Path, keyPrefix, digests, checkpointTimes
}

// finding is what both verifiers must agree on.
type finding struct {
	Exit      int
	OK        bool
	Seq       string
	RecordID  string
	Reason    string
	Records   int
	Pruned    int
	Checked   int
	Unsigned  string
	SignedThr string
	Digests   int
	Digested  string
}

func goFinding(t *testing.T, dir string, args ...string) finding {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"verify", "--export", dir, "--json"}, args...), &out, &errOut)
	require.Contains(t, []int{exitOK, exitTampered, exitUnknownKeys}, code, "auditctl verify --export: exit %d, stderr %q", code, errOut.String())
	var rep chain.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), "auditctl verify --json: %q", out.String())
	f := finding{Exit: code, OK: rep.OK, Records: rep.Records, Pruned: rep.Pruned, Checked: rep.Checkpoints,
		Unsigned: fmt.Sprint(rep.UnsignedTail), SignedThr: fmt.Sprint(rep.SignedThrough),
		Digests: rep.Digests, Digested: fmt.Sprint(rep.DigestedThrough)}
	if b := rep.FirstBroken; b != nil {
		f.Seq, f.RecordID, f.Reason = fmt.Sprint(b.Seq), b.RecordID, b.Reason
	}
	return f
}

// nodeVerifier is the path of the Node verifier, or "" when node is not installed (a failure
// under CI=true, where the agreement must be checked).
func nodeVerifier(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is not installed (scripts/install-deps.sh installs it): the independent verifier cannot run: %v", err)
		}
		t.Skip("node is not installed; under CI=true this is a failure")
	}
	path, err := filepath.Abs(filepath.Join("..", "..", "verifier", "node", "verify.mjs"))
	require.NoError(t, err)
	return path
}

func nodeFinding(t *testing.T, script, dir string, args ...string) finding {
	t.Helper()
	cmd := exec.Command("node", append(append([]string{script, "--json"}, args...), dir)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	require.Contains(t, []int{0, 3, 4}, code, "node verify.mjs: exit %d, stderr %q", code, errOut.String())
	var rep struct {
		OK          bool   `json:"ok"`
		Records     int    `json:"records_checked"`
		Pruned      int    `json:"records_pruned"`
		Checked     int    `json:"checkpoints_checked"`
		Unsigned    string `json:"unsigned_tail"`
		SignedThr   string `json:"signed_through_seq"`
		Digests     int    `json:"digests"`
		Digested    string `json:"digested_through_seq"`
		FirstBroken *struct {
			Seq      string `json:"seq"`
			RecordID string `json:"record_id"`
			Reason   string `json:"reason"`
		} `json:"first_broken"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), "node verify.mjs --json: %q, stderr %q", out.String(), errOut.String())
	f := finding{Exit: code, OK: rep.OK, Records: rep.Records, Pruned: rep.Pruned, Checked: rep.Checked, Unsigned: rep.Unsigned,
		SignedThr: rep.SignedThr, Digests: rep.Digests, Digested: rep.Digested}
	if b := rep.FirstBroken; b != nil {
		f.Seq, f.RecordID, f.Reason = b.Seq, b.RecordID, b.Reason
	}
	return f
}

// tamper copies the export in src, lets edit change its files as someone holding the export
// (not the key) would, and rewrites the manifest's digests to match, as that person would too.
func tamper(t *testing.T, src string, edit func(files map[string][]byte)) string {
	t.Helper()
	dst := t.TempDir()
	var m chainexport.Manifest
	data, err := os.ReadFile(filepath.Join(src, chainexport.ManifestFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m))
	files := map[string][]byte{}
	for _, f := range m.Files {
		files[f.Name], err = os.ReadFile(filepath.Join(src, f.Name))
		require.NoError(t, err)
	}
	edit(files)
	// A file edited to nil is removed, from the manifest too.
	kept := m.Files[:0]
	for _, f := range m.Files {
		if files[f.Name] != nil {
			kept = append(kept, f)
		}
	}
	m.Files = kept
	for i, f := range m.Files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dst, f.Name)), 0o750))
		require.NoError(t, os.WriteFile(filepath.Join(dst, f.Name), files[f.Name], 0o640))
		sum := sha256.Sum256(files[f.Name])
		m.Files[i].SHA256, m.Files[i].Bytes = hex.EncodeToString(sum[:]), int64(len(files[f.Name]))
	}
	doc, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dst, chainexport.ManifestFile), doc, 0o640))
	return dst
}

// rewriteExport is an attacker holding the export and the stolen signing key: record rec-05
// edited, every link after it recomputed, every checkpoint re-signed over the new heads.
func rewriteExport(t *testing.T, f map[string][]byte, keyPrefix string) {
	t.Helper()
	priv, err := chain.LoadPrivateKey(keyPrefix + ".pem")
	require.NoError(t, err)
	recs := splitLines(f[chainexport.RecordsFile])
	recs[5] = bytes.Replace(recs[5], []byte(`"message":"m-05"`), []byte(`"message":"m-55"`), 1)
	f[chainexport.RecordsFile] = joinLines(recs)
	links := splitLines(f[chainexport.LinksFile])
	heads := map[string]chain.Hash{}
	var prev chain.Hash
	for i, line := range links {
		var ll chainexport.LinkLine
		require.NoError(t, json.Unmarshal(line, &ll))
		l := chain.Link{RecordID: ll.RecordID, Level: record.Level(ll.Level)}
		_, err := fmt.Sscan(ll.Seq, &l.Seq)
		require.NoError(t, err)
		var ts int64
		_, err = fmt.Sscan(ll.Timestamp, &ts)
		require.NoError(t, err)
		l.Timestamp = time.Unix(0, ts)
		l.RecordHash = sha256.Sum256(recs[i])
		l.Hash = l.HashAfter(prev)
		prev = l.Hash
		ll.RecordHash, ll.Hash = l.RecordHash.String(), l.Hash.String()
		heads[ll.Seq] = l.Hash
		links[i], _ = json.Marshal(ll)
	}
	f[chainexport.LinksFile] = joinLines(links)
	cps := splitLines(f[chainexport.CheckpointsFile])
	for i, line := range cps {
		var p chain.PortableCheckpoint
		require.NoError(t, json.Unmarshal(line, &p))
		cp, err := p.Checkpoint()
		require.NoError(t, err)
		cp.Head = heads[p.Seq]
		cps[i], _ = json.Marshal(chain.NewSigner(priv).Sign(cp).Portable())
	}
	f[chainexport.CheckpointsFile] = joinLines(cps)
}

func splitLines(b []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}
func joinLines(ls [][]byte) []byte { return append(bytes.Join(ls, []byte("\n")), '\n') }

// The export round-trips through both verifiers, auditctl's and the independent Node one
// written from docs/TAMPER_EVIDENCE.md, and they agree on every finding: a clean export, a
// ranged one, and each kind of tampering.
func TestExport_BothVerifiersAgreeOnCleanAndTamperedExports(t *testing.T) {
	script := nodeVerifier(t)
	db, key, digests, times := evidenceDB(t)
	pub := key + ".pub.pem"
	full := filepath.Join(t.TempDir(), "full")
	var out, errOut bytes.Buffer
	code := run([]string{"export", "--db", db, "--tenant", exportTenant, "--public-key", pub, "--digests", digests, "--out", full}, &out, &errOut)
	require.Equal(t, exitOK, code, "export: %s", errOut.String())
	// From the second checkpoint's time: anchored on the first checkpoint at or before it.
	ranged := filepath.Join(t.TempDir(), "ranged")
	code = run([]string{"export", "--db", db, "--tenant", exportTenant, "--public-key", pub, "--out", ranged,
		"--from", times[1].Format(time.RFC3339Nano), "--to", times[1].Format(time.RFC3339Nano)}, &out, &errOut)
	require.Equal(t, exitOK, code, "ranged export: %s", errOut.String())

	swapLinks := func(files map[string][]byte) {
		ls := splitLines(files[chainexport.LinksFile])
		var a, b chainexport.LinkLine
		require.NoError(t, json.Unmarshal(ls[4], &a))
		require.NoError(t, json.Unmarshal(ls[5], &b))
		a.Seq, b.Seq = b.Seq, a.Seq // moved, and renumbered to look in order
		ls[4], _ = json.Marshal(b)
		ls[5], _ = json.Marshal(a)
		files[chainexport.LinksFile] = joinLines(ls)
	}
	cases := []struct {
		name     string
		src      string
		edit     func(map[string][]byte)
		args     []string
		ok       bool
		seq      string
		recordID string
		reason   string
	}{
		{name: "a clean export is intact", src: full, ok: true},
		{name: "a clean export with the export's own keys is intact", src: full, args: []string{}, ok: true},
		{name: "a ranged export is intact from its anchor", src: ranged, ok: true},
		{name: "an edited record is found at its seq", src: full, edit: func(f map[string][]byte) {
			f[chainexport.RecordsFile] = bytes.Replace(f[chainexport.RecordsFile], []byte(`"message":"m-12"`), []byte(`"message":"m-99"`), 1)
		}, seq: "13", recordID: "rec-12", reason: chain.ReasonRecordAltered},
		{name: "a deleted record is found at its seq", src: full, edit: func(f map[string][]byte) {
			ls := splitLines(f[chainexport.RecordsFile])
			f[chainexport.RecordsFile] = joinLines(append(ls[:7:7], ls[8:]...))
		}, seq: "8", recordID: "rec-07", reason: chain.ReasonRecordDeleted},
		{name: "an inserted record is found by its id", src: full, edit: func(f map[string][]byte) {
			ls := splitLines(f[chainexport.RecordsFile])
			forged := bytes.Replace(ls[3], []byte(`"id":"rec-03"`), []byte(`"id":"rec-forged"`), 1)
			f[chainexport.RecordsFile] = joinLines(append(ls, forged))
		}, seq: "0", recordID: "rec-forged", reason: chain.ReasonUnchainedRecord},
		{name: "reordered records are found at the first moved link", src: full, edit: swapLinks,
			seq: "5", recordID: "rec-05", reason: chain.ReasonLinkAltered},
		{name: "a forged checkpoint fails its signature", src: full, edit: func(f map[string][]byte) {
			ls := splitLines(f[chainexport.CheckpointsFile])
			var cp chain.PortableCheckpoint
			require.NoError(t, json.Unmarshal(ls[1], &cp))
			cp.Head = strings.Repeat("ab", 32)
			ls[1], _ = json.Marshal(cp)
			f[chainexport.CheckpointsFile] = joinLines(ls)
		}, seq: "20", reason: chain.ReasonBadSignature},
		{name: "a link and its record deleted leave a gap", src: full, edit: func(f map[string][]byte) {
			ls := splitLines(f[chainexport.LinksFile])
			f[chainexport.LinksFile] = joinLines(append(ls[:2:2], ls[3:]...))
			rs := splitLines(f[chainexport.RecordsFile])
			f[chainexport.RecordsFile] = joinLines(append(rs[:2:2], rs[3:]...))
		}, seq: "3", reason: chain.ReasonLinkMissing},
		{name: "the last links cut off are found by the checkpoint that covered them", src: full, edit: func(f map[string][]byte) {
			ls := splitLines(f[chainexport.LinksFile])
			f[chainexport.LinksFile] = joinLines(ls[:25])
			rs := splitLines(f[chainexport.RecordsFile])
			f[chainexport.RecordsFile] = joinLines(rs[:25])
		}, seq: "30", reason: chain.ReasonCheckpointTooFar},
		{name: "a checkpoint a digest holds removed from the export", src: full, edit: func(f map[string][]byte) {
			ls := splitLines(f[chainexport.CheckpointsFile])
			f[chainexport.CheckpointsFile] = joinLines(append(ls[:1:1], ls[2:]...))
		}, seq: "20", reason: chaindigest.ReasonCheckpointDeleted},
		{name: "records rewritten and re-signed with the stolen key, but the digests hold the old heads", src: full, edit: func(f map[string][]byte) {
			rewriteExport(t, f, key)
		}, seq: "10", reason: chaindigest.ReasonCheckpointRewriten},
		{name: "the same rewrite passes without the digests: they are what catch it", src: full, edit: func(f map[string][]byte) {
			rewriteExport(t, f, key)
			for name := range f {
				if strings.HasPrefix(name, chainexport.DigestsDir+"/") {
					f[name] = nil
				}
			}
		}, ok: true},
		{name: "a digest removed from the export", src: full, edit: func(f map[string][]byte) {
			f[chainexport.DigestsDir+"/"+chaindigest.Name(2)] = nil
		}, seq: "0", recordID: chaindigest.Name(3), reason: chaindigest.ReasonDigestChainBroken},
		{name: "a file changed without its manifest digest", src: full, reason: chainexport.ReasonFileAltered, recordID: chainexport.RecordsFile, seq: "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.src
			if c.edit != nil {
				dir = tamper(t, c.src, c.edit)
			}
			if c.reason == chainexport.ReasonFileAltered {
				dir = tamper(t, c.src, func(map[string][]byte) {})
				f, err := os.OpenFile(filepath.Join(dir, chainexport.RecordsFile), os.O_APPEND|os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.WriteString("{}\n")
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			args := []string{"--public-key", pub}
			if c.args != nil {
				args = c.args
			}
			goF, nodeF := goFinding(t, dir, args...), nodeFinding(t, script, dir, args...)
			assert.Equal(t, goF, nodeF, "auditctl verify (first) and verify.mjs (second) disagree: a bug in docs/TAMPER_EVIDENCE.md or the code")
			assert.Equal(t, c.ok, goF.OK, "ok: %+v", goF)
			assert.Equal(t, c.reason, goF.Reason, "%+v", goF)
			if !c.ok {
				assert.Equal(t, c.seq, goF.Seq, "%+v", goF)
				assert.Equal(t, c.recordID, goF.RecordID, "%+v", goF)
				assert.Equal(t, exitTampered, goF.Exit, "%+v", goF)
			}
		})
	}

	// The export says what the database says.
	out.Reset()
	code = run([]string{"verify", "--db", db, "--tenant", exportTenant, "--public-key", pub, "--json"}, &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	var dbRep chain.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &dbRep))
	full2 := goFinding(t, full, "--public-key", pub)
	assert.Equal(t, dbRep.Records, full2.Records, "records checked: database %d, export %d", dbRep.Records, full2.Records)
	assert.Equal(t, 30, full2.Records)
	assert.Equal(t, 3, full2.Checked)
	rangedF := goFinding(t, ranged, "--public-key", pub)
	assert.Equal(t, 10, rangedF.Records, "the ranged export: the links between the first and the second checkpoint: %+v", rangedF)
}
