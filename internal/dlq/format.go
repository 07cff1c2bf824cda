package dlq

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
	"unicode/utf8"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// The file format (version 2) is text, so an operator can read a batch with less or jq:
//
//	line 1       header: {"format":"otelcol-audit-dlq","version":2,"tenant":...,"records":N,...}
//	lines 2..N+1 one record per line: {"crc32c":"<8 hex digits>","record":<record.Record's JSON>}
//	last line    trailer: {"end":"otelcol-audit-dlq","records":N,"crc32c":"<8 hex digits>"}
//
// The CRC-32C in the trailer covers every byte before the trailer line. A file is valid only
// with a matching trailer, so a file cut at any offset, or altered, is detected: files are
// written whole and renamed into place, so such a file means the disk or a person changed it.
// Each record line's CRC-32C covers the bytes of its "record" value, so that the records a
// damage did not touch can be told apart and salvaged (see salvage). Version 1 files (no
// per-record checksum, the record JSON alone on its line) are still read when intact.
const (
	formatName    = "otelcol-audit-dlq"
	formatVersion = 2
)

// maxErrorLen bounds the last error kept in a header; a driver error can embed a whole
// statement, and the header is rewritten on every failure.
const maxErrorLen = 2048

// ErrCorrupt is wrapped by errors about a batch file that cannot be read back as written.
var ErrCorrupt = errors.New("corrupt batch file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is a batch file's first line.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Tenant is the tenant the batch is inserted under. JSON would replace invalid UTF-8, so
	// such a tenant is also kept byte-exact in TenantBase64, which wins when present.
	Tenant       string    `json:"tenant"`
	TenantBase64 string    `json:"tenant_base64,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	Records      int       `json:"records"`
	// Failures counts failed retry-engine attempts (the exporter's own retries before Put are
	// not counted).
	Failures      int        `json:"failures"`
	LastError     string     `json:"last_error,omitempty"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	// Requeues counts operator requeues from .dead, so the file tells its own history.
	Requeues int `json:"requeues,omitempty"`
}

type trailer struct {
	End     string `json:"end"`
	Records int    `json:"records"`
	CRC32C  string `json:"crc32c"`
}

// batch is a decoded file. lines keeps each record's encoded bytes so that a header rewrite
// copies records exactly instead of re-encoding them.
type batch struct {
	Header  Header
	Records []record.Record
	lines   [][]byte
}

func (h *Header) tenant() string {
	if h.TenantBase64 != "" {
		if b, err := base64.StdEncoding.DecodeString(h.TenantBase64); err == nil {
			return string(b)
		}
	}
	return h.Tenant
}

func newHeader(tenant string, created time.Time, n int, cause error) Header {
	h := Header{Format: formatName, Version: formatVersion, Tenant: tenant, CreatedAt: created.UTC(), Records: n}
	if !utf8.ValidString(tenant) {
		h.TenantBase64 = base64.StdEncoding.EncodeToString([]byte(tenant))
	}
	if cause != nil {
		h.LastError = truncateError(cause.Error())
	}
	return h
}

func truncateError(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	cut := maxErrorLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// recordLine is a version 2 record line.
type recordLine struct {
	CRC32C string          `json:"crc32c"`
	Record json.RawMessage `json:"record"`
}

func wrapRecord(rec []byte) []byte {
	line := make([]byte, 0, len(rec)+40)
	line = fmt.Appendf(line, `{"crc32c":"%08x","record":`, crc32.Checksum(rec, castagnoli))
	line = append(line, rec...)
	return append(line, '}')
}

// unwrapRecord decodes a version 2 record line, checking its checksum.
func unwrapRecord(line []byte, r *record.Record) error {
	var rl recordLine
	if err := json.Unmarshal(line, &rl); err != nil {
		return err
	}
	if got := fmt.Sprintf("%08x", crc32.Checksum(rl.Record, castagnoli)); got != rl.CRC32C {
		return fmt.Errorf("checksum %s, line says %s", got, rl.CRC32C)
	}
	return record.DecodeRecord(rl.Record, r)
}

// encodeRecords returns one version 2 line per record (without the newline).
func encodeRecords(recs []record.Record) ([][]byte, error) {
	lines := make([][]byte, len(recs))
	for i := range recs {
		b, err := marshal(&recs[i])
		if err != nil {
			// JSON has no NaN or infinity. The batch must still be kept, so such numbers are
			// written the way the stores keep them: a non-finite duration as 0 and a
			// non-finite attribute as its string ("NaN", "+Inf").
			safe := recs[i]
			if math.IsNaN(safe.DurationMS) || math.IsInf(safe.DurationMS, 0) {
				safe.DurationMS = 0
			}
			safe.Attributes, _ = record.FiniteNumbers(safe.Attributes).(map[string]any)
			safe.Resource, _ = record.FiniteNumbers(safe.Resource).(map[string]any)
			if b, err = marshal(&safe); err != nil {
				return nil, fmt.Errorf("encode record %d (id %q): %w", i, recs[i].ID, err)
			}
		}
		lines[i] = wrapRecord(b)
	}
	return lines, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// encodeFile renders a whole batch file. h.Records is set from lines.
func encodeFile(h Header, lines [][]byte) ([]byte, error) {
	h.Records = len(lines)
	hb, err := marshal(&h)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	size := len(hb) + 1 + 64
	for _, l := range lines {
		size += len(l) + 1
	}
	buf := make([]byte, 0, size)
	buf = append(append(buf, hb...), '\n')
	for _, l := range lines {
		buf = append(append(buf, l...), '\n')
	}
	t := trailer{End: formatName, Records: len(lines), CRC32C: fmt.Sprintf("%08x", crc32.Checksum(buf, castagnoli))}
	tb, err := marshal(&t)
	if err != nil {
		return nil, fmt.Errorf("encode trailer: %w", err)
	}
	return append(append(buf, tb...), '\n'), nil
}

// decodeFile parses and verifies a batch file. Every error wraps ErrCorrupt.
func decodeFile(data []byte) (*batch, error) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%w: no trailer (file cut short)", ErrCorrupt)
	}
	body := data[:len(data)-1]
	cut := bytes.LastIndexByte(body, '\n') + 1
	if cut == 0 {
		return nil, fmt.Errorf("%w: no header before the trailer", ErrCorrupt)
	}
	var t trailer
	if err := json.Unmarshal(body[cut:], &t); err != nil || t.End != formatName {
		return nil, fmt.Errorf("%w: last line is not a trailer (file cut short)", ErrCorrupt)
	}
	if got := fmt.Sprintf("%08x", crc32.Checksum(data[:cut], castagnoli)); got != t.CRC32C {
		return nil, fmt.Errorf("%w: checksum %s, trailer says %s", ErrCorrupt, got, t.CRC32C)
	}
	lines := bytes.Split(data[:cut-1], []byte{'\n'})
	var h Header
	if err := json.Unmarshal(lines[0], &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if h.Format != formatName {
		return nil, fmt.Errorf("%w: header format %q, want %q", ErrCorrupt, h.Format, formatName)
	}
	if h.Version != 1 && h.Version != formatVersion {
		return nil, fmt.Errorf("%w: format version %d, this binary reads 1 and %d", ErrCorrupt, h.Version, formatVersion)
	}
	lines = lines[1:]
	if h.Records != len(lines) || t.Records != len(lines) {
		return nil, fmt.Errorf("%w: %d record lines, header says %d, trailer %d", ErrCorrupt, len(lines), h.Records, t.Records)
	}
	b := &batch{Header: h, Records: make([]record.Record, len(lines)), lines: lines}
	decode := unwrapRecord
	if h.Version == 1 {
		decode = record.DecodeRecord
	}
	for i, l := range lines {
		if err := decode(l, &b.Records[i]); err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrCorrupt, i, err)
		}
	}
	return b, nil
}

// salvageResult is what could be read back from a damaged batch file.
type salvageResult struct {
	// Header is the file's header when it could be read (else one naming only the tenant).
	Header  Header
	Tenant  string
	Records []record.Record
	// Lost counts the records that could not be read: those the header announced beyond the
	// ones salvaged, or, with a damaged header, the damaged record lines.
	Lost int
	// Damaged lists the 1-based line numbers that could not be read, for a human to look at.
	Damaged []int
}

// salvage reads the intact records of a damaged version 2 file: every record line whose
// checksum matches. The tenant comes from the header, or from the records when the header is
// damaged. A version 1 file has no per-record checksums, so nothing in it can be trusted once
// its file checksum fails: salvage refuses it.
func salvage(data []byte) (salvageResult, error) {
	lines := bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	var h Header
	headerOK := json.Unmarshal(lines[0], &h) == nil && h.Format == formatName
	if headerOK && h.Version != formatVersion {
		return salvageResult{}, fmt.Errorf("%w: format version %d has no per-record checksums: nothing can be salvaged", ErrCorrupt, h.Version)
	}
	var out salvageResult
	for i, l := range lines[1:] {
		var t trailer
		if json.Unmarshal(l, &t) == nil && t.End == formatName {
			continue
		}
		var r record.Record
		if err := unwrapRecord(l, &r); err != nil {
			out.Damaged = append(out.Damaged, i+2)
			continue
		}
		out.Records = append(out.Records, r)
	}
	out.Lost = len(out.Damaged)
	if headerOK {
		out.Header = h
		out.Tenant = h.tenant()
		// A damaged line may be a cut trailer rather than a record: the header's count decides.
		out.Lost = max(0, h.Records-len(out.Records))
	} else {
		for _, r := range out.Records {
			if out.Tenant == "" {
				out.Tenant = r.TenantID
			} else if r.TenantID != out.Tenant {
				return salvageResult{}, fmt.Errorf("%w: the header is damaged and the records belong to several tenants", ErrCorrupt)
			}
		}
	}
	if !headerOK {
		out.Header = Header{Format: formatName, Version: formatVersion, Tenant: out.Tenant}
	}
	return out, nil
}
