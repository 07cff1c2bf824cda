package dlq

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeFile_ReadsBackWhatEncodeFileWrote(t *testing.T) {
	recs := records("rt", "acme", 3)
	lines, err := encodeRecords(recs)
	require.NoError(t, err)
	data, err := encodeFile(newHeader("acme", t0, len(recs), errors.New("why")), lines)
	require.NoError(t, err)
	assert.Equal(t, len(recs)+2, strings.Count(string(data), "\n"), "file lines, want header + %d records + trailer", len(recs))
	b, err := decodeFile(data)
	require.NoError(t, err)
	assert.Equal(t, "acme", b.Header.Tenant, "decoded %+v", b.Header)
	assert.Equal(t, "why", b.Header.LastError, "decoded %+v", b.Header)
	if assert.Len(t, b.Records, 3, "decoded %+v", b.Header) {
		assert.Equal(t, "rt-0002", b.Records[2].ID, "decoded %+v", b.Header)
	}
}

func TestDecodeFile_RefusesANewerFormatVersionAsCorrupt(t *testing.T) {
	lines, _ := encodeRecords(records("v", "acme", 1))
	h := newHeader("acme", t0, 1, nil)
	h.Version = 3
	data, err := encodeFile(h, lines)
	require.NoError(t, err)
	_, err = decodeFile(data)
	require.ErrorIs(t, err, ErrCorrupt, "decodeFile(version 3), want ErrCorrupt naming the version")
	assert.Contains(t, err.Error(), "version 3", "decodeFile(version 3), want ErrCorrupt naming the version")
}

// Files of the previous version are in the field: an intact one is read as before.
func TestDecodeFile_ReadsAVersion1File(t *testing.T) {
	recs := records("v1", "acme", 3)
	var lines [][]byte
	for i := range recs {
		b, err := marshal(&recs[i])
		require.NoError(t, err)
		lines = append(lines, b) // version 1: the record JSON alone on its line
	}
	h := newHeader("acme", t0, len(lines), nil)
	h.Version = 1
	data, err := encodeFile(h, lines)
	require.NoError(t, err)
	b, err := decodeFile(data)
	require.NoError(t, err, "decodeFile(version 1)")
	require.Len(t, b.Records, 3, "decodeFile(version 1) = %v", b)
	require.Equal(t, "v1-0002", b.Records[2].ID, "decodeFile(version 1) = %v", b)
	// Damaged, it has no per-record checksums: nothing is salvaged rather than guessed.
	data[len(data)/2] ^= 0x01
	_, err = salvage(data)
	assert.ErrorIs(t, err, ErrCorrupt, "salvage of a damaged version 1 file")
}

func TestTruncateError_KeepsLongErrorsBoundedAndValidUTF8(t *testing.T) {
	got := truncateError(strings.Repeat("é", maxErrorLen))
	assert.LessOrEqual(t, len(got), maxErrorLen+len("…"), "truncateError gave %d bytes ending %q", len(got), got[len(got)-8:])
	assert.True(t, strings.HasSuffix(got, "…"), "truncateError gave %d bytes ending %q", len(got), got[len(got)-8:])
	assert.NotContains(t, got, "\uFFFD", "truncateError gave %d bytes ending %q", len(got), got[len(got)-8:])
}

// FuzzDecodeFile: no input makes the decoder panic, and whatever it accepts is consistent.
func FuzzDecodeFile(f *testing.F) {
	lines, _ := encodeRecords(records("fz", "acme", 2))
	good, _ := encodeFile(newHeader("acme", t0, 2, errors.New("x")), lines)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("\n\n\n"))
	f.Add([]byte(`{"end":"otelcol-audit-dlq","records":0,"crc32c":"00000000"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodeFile(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if b.Header.Records != len(b.Records) || len(b.lines) != len(b.Records) {
			t.Fatalf("accepted a file whose header says %d records but holds %d", b.Header.Records, len(b.Records))
		}
	})
}
