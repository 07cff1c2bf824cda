package auditqueryextension

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/otelcol-audit/otelcol-audit/internal/auditstore"
	"github.com/otelcol-audit/otelcol-audit/internal/chain"
	"github.com/otelcol-audit/otelcol-audit/internal/chainexport"
)

// exportPath serves a tenant's evidence export as a tar archive.
const exportPath = "/api/v1/export"

// ChainExporter writes a tenant's evidence export into a directory (the auditstore extension's
// handle does; docs/TAMPER_EVIDENCE.md, "Exports").
type ChainExporter interface {
	ExportChain(ctx context.Context, dir, tenant string, r chain.Range) (chainexport.Manifest, error)
}

// exportChain answers an admin with the evidence export of one tenant's chain between start
// and end (commit times, optional), as a tar archive of the export directory under
// "export/": what `auditctl export` writes, for an auditor to verify with verifier/node. The
// export is written to a temporary directory first, so an error is still a JSON answer.
func (a *api) exportChain(w http.ResponseWriter, r *http.Request) *apiError {
	caller, e := principalFromRequest(r, a.authConfigured)
	if e != nil {
		return e
	}
	p := newParams(r.URL.Query(), []string{paramTenant, paramStart, paramEnd}, a.authParams)
	tenant := p.tenant()
	rng := chain.Range{Start: p.time(paramStart), End: p.time(paramEnd)}
	if p.err != nil {
		return p.err
	}
	if !caller.isAdmin() {
		return forbidden("only an admin may export evidence")
	}
	if tenant == "" {
		return badParam(paramTenant, "is required: a chain belongs to one tenant")
	}
	if !rng.Start.IsZero() && !rng.End.IsZero() && !rng.End.After(rng.Start) {
		return badParam(paramEnd, "must be after start")
	}
	b, release, ok := a.backends.acquire()
	if !ok {
		return errNoBackend
	}
	defer release()
	ex, ok := b.Verifier.(ChainExporter)
	if !ok {
		return errNoChain
	}
	tmp, err := os.MkdirTemp("", "otelcol-audit-export-*")
	if err != nil {
		return a.storeError("export", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "export")
	m, err := ex.ExportChain(r.Context(), dir, tenant, rng)
	switch {
	case errors.Is(err, auditstore.ErrNoChain):
		return errNoChain
	case errors.Is(err, chainexport.ErrNoChain):
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "tenant " + tenant + " has no chain"}
	case err != nil:
		return a.storeError("export", err)
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="evidence-export.tar"`)
	w.WriteHeader(http.StatusOK)
	// Past the header, a failure can only cut the archive short, which tar readers report.
	if err := writeTar(w, dir, append([]string{chainexport.ManifestFile}, fileNames(m)...)); err != nil {
		a.logger.Warn("Evidence export cut short", zap.Error(err))
	}
	return nil
}

func fileNames(m chainexport.Manifest) []string {
	names := make([]string, len(m.Files))
	for i, f := range m.Files {
		names[i] = f.Name
	}
	return names
}

func writeTar(w http.ResponseWriter, dir string, names []string) error {
	tw := tar.NewWriter(w)
	for _, name := range names {
		if err := addFile(tw, filepath.Join(dir, filepath.FromSlash(name)), "export/"+name); err != nil {
			return err
		}
	}
	return tw.Close()
}

// addFile streams one file into the archive: the records of a long range need not fit in memory.
func addFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
