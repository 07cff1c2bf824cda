package chaindigest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/otelcol-audit/otelcol-audit/internal/atomicfile"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"
)

// Directory layout: <dir>/<tenant, path-escaped>/<seq, 20 digits>.json. Files are only ever
// added: a new one is written aside, fsynced and hard-linked into place, which fails rather
// than replace a digest of the same seq, and the directory is fsynced after.

// Dir is a digest directory sink.
type Dir struct {
	Path string
}

// Name is the file name of a tenant's digest seq.
func Name(seq uint64) string { return fmt.Sprintf("%020d.json", seq) }

// Last returns the seq of the tenant's last digest and its SHA-256 (0 and zeros for none),
// where the next digest continues the chain.
func (d Dir) Last(tenant string) (uint64, chain.Hash, error) {
	files, err := ReadFiles(d.Path, tenant)
	if err != nil || len(files) == 0 {
		return 0, chain.Hash{}, err
	}
	last := files[len(files)-1]
	seq, err := strconv.ParseUint(strings.TrimSuffix(last.Name, ".json"), 10, 64)
	if err != nil {
		return 0, chain.Hash{}, fmt.Errorf("digest directory: %s: not a digest file name", last.Name)
	}
	return seq, sha256.Sum256(last.Data), nil
}

// Deliver adds digest seq of tenant. It never replaces a file.
func (d Dir) Deliver(_ context.Context, tenant string, seq uint64, digest []byte) error {
	tenantDir := filepath.Join(d.Path, url.PathEscape(tenant))
	if err := os.MkdirAll(tenantDir, 0o750); err != nil {
		return fmt.Errorf("digest directory: %w", err)
	}
	tmp, err := atomicfile.WriteTemp(tenantDir, ".digest-*", digest)
	if err != nil {
		return fmt.Errorf("digest directory: %w", err)
	}
	defer os.Remove(tmp)
	name := filepath.Join(tenantDir, Name(seq))
	if err := os.Link(tmp, name); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("digest directory: %s exists: another writer continues this digest chain, or it was restored", name)
		}
		return fmt.Errorf("digest directory: %w", err)
	}
	if err := atomicfile.SyncDir(tenantDir); err != nil {
		return fmt.Errorf("digest directory: %w", err)
	}
	return nil
}

// ReadFiles returns the tenant's digest files in seq order; none is not an error.
func ReadFiles(dir, tenant string) ([]File, error) {
	tenantDir := filepath.Join(dir, url.PathEscape(tenant))
	entries, err := os.ReadDir(tenantDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("digest directory: %w", err)
	}
	var out []File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(tenantDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("digest directory: %w", err)
		}
		out = append(out, File{Name: e.Name(), Data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Tenants lists the tenants with a digest chain under dir.
func Tenants(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("digest directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t, err := url.PathUnescape(e.Name())
		if err != nil {
			return nil, fmt.Errorf("digest directory: %s: not a path-escaped tenant", e.Name())
		}
		out = append(out, t)
	}
	return out, nil
}
