package dlq

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeFile_ReadsBackWhatEncodeFileWrote(t *testing.T) {
	recs := records("rt", "acme", 3)
	lines, err := encodeRecords(recs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeFile(newHeader("acme", t0, len(recs), errors.New("why")), lines)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != len(recs)+2 {
		t.Errorf("file has %d lines, want header + %d records + trailer", n, len(recs))
	}
	b, err := decodeFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if b.Header.Tenant != "acme" || b.Header.LastError != "why" || len(b.Records) != 3 || b.Records[2].ID != "rt-0002" {
		t.Errorf("decoded %+v", b.Header)
	}
}

func TestDecodeFile_RefusesANewerFormatVersionAsCorrupt(t *testing.T) {
	lines, _ := encodeRecords(records("v", "acme", 1))
	h := newHeader("acme", t0, 1, nil)
	h.Version = 3
	data, err := encodeFile(h, lines)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeFile(data); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("decodeFile(version 3) = %v, want ErrCorrupt naming the version", err)
	}
}

// Files of the previous version are in the field: an intact one is read as before.
func TestDecodeFile_ReadsAVersion1File(t *testing.T) {
	recs := records("v1", "acme", 3)
	var lines [][]byte
	for i := range recs {
		b, err := marshal(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b) // version 1: the record JSON alone on its line
	}
	h := newHeader("acme", t0, len(lines), nil)
	h.Version = 1
	data, err := encodeFile(h, lines)
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeFile(data)
	if err != nil || len(b.Records) != 3 || b.Records[2].ID != "v1-0002" {
		t.Fatalf("decodeFile(version 1) = %v, %v", b, err)
	}
	// Damaged, it has no per-record checksums: nothing is salvaged rather than guessed.
	data[len(data)/2] ^= 0x01
	if _, err := salvage(data); !errors.Is(err, ErrCorrupt) {
		t.Errorf("salvage of a damaged version 1 file = %v, want ErrCorrupt", err)
	}
}

func TestTruncateError_KeepsLongErrorsBoundedAndValidUTF8(t *testing.T) {
	got := truncateError(strings.Repeat("é", maxErrorLen))
	if len(got) > maxErrorLen+len("…") || !strings.HasSuffix(got, "…") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("truncateError gave %d bytes ending %q", len(got), got[len(got)-8:])
	}
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
