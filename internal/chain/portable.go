package chain

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
)

// PortableCheckpoint is the checkpoint form of exports and digest files, made for verifiers
// written in other languages: every 64-bit integer is a decimal string, so that a reader
// whose JSON numbers are doubles (JavaScript) keeps it exact, and times are Unix nanoseconds,
// the values the signature covers, so no verifier has to parse RFC 3339.
type PortableCheckpoint struct {
	Tenant string `json:"tenant"`
	Seq    string `json:"seq"`
	Head   string `json:"head"`
	Time   string `json:"time"`
	Kind   string `json:"kind"`
	// Cutoffs by level name, Unix nanoseconds; {} for none.
	Cutoffs map[string]string `json:"cutoffs"`
	// KeyID and Signature (standard base64) are "" for an unsigned checkpoint.
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

// Portable is c in the portable form.
func (c Checkpoint) Portable() PortableCheckpoint {
	p := PortableCheckpoint{Tenant: c.Tenant, Seq: strconv.FormatUint(c.Seq, 10), Head: c.Head.String(),
		Time: strconv.FormatInt(unixNanos(c.Time), 10), Kind: c.Kind, Cutoffs: map[string]string{},
		KeyID: c.KeyID, Signature: base64.StdEncoding.EncodeToString(c.Signature)}
	for l, t := range c.Cutoffs {
		p.Cutoffs[l.String()] = strconv.FormatInt(unixNanos(t), 10)
	}
	return p
}

// Checkpoint reads the portable form back; the error names the field that is malformed.
func (p PortableCheckpoint) Checkpoint() (Checkpoint, error) {
	c := Checkpoint{Tenant: p.Tenant, Kind: p.Kind, KeyID: p.KeyID}
	var err error
	if c.Seq, err = strconv.ParseUint(p.Seq, 10, 64); err != nil {
		return c, &FormatError{What: "checkpoint seq", Value: p.Seq, Want: "a decimal unsigned integer"}
	}
	if c.Head, err = ParseHash(p.Head); err != nil {
		return c, err
	}
	if c.Time, err = parseNanos(p.Time); err != nil {
		return c, &FormatError{What: "checkpoint time", Value: p.Time, Want: "Unix nanoseconds in decimal"}
	}
	if c.Signature, err = base64.StdEncoding.DecodeString(p.Signature); err != nil {
		return c, &FormatError{What: "checkpoint signature", Value: p.Signature, Want: "standard base64"}
	}
	if len(c.Signature) == 0 {
		c.Signature = nil
	}
	for name, v := range p.Cutoffs {
		l, err := record.ParseLevel(name)
		if err != nil || l.String() != name {
			return c, &FormatError{What: "checkpoint cutoff level", Value: name, Want: "debug, info, warn, error or security"}
		}
		t, err := parseNanos(v)
		if err != nil {
			return c, &FormatError{What: fmt.Sprintf("checkpoint cutoff %s", name), Value: v, Want: "Unix nanoseconds in decimal"}
		}
		if c.Cutoffs == nil {
			c.Cutoffs = map[record.Level]time.Time{}
		}
		c.Cutoffs[l] = t
	}
	return c, nil
}

// parseNanos reads Unix nanoseconds; 0 is the zero time, as unixNanos writes it.
func parseNanos(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, n).UTC(), nil
}

// HashAfter is the link's chain hash when prev is the previous link's hash (Next's formula):
// what a verifier compares with the stored Hash.
func (l Link) HashAfter(prev Hash) Hash { return l.chainHash(prev) }
