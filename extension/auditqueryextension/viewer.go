package auditqueryextension

import (
	"embed"
	"io/fs"
	"net/http"
)

// viewerFiles is the web viewer: plain HTML, CSS and JavaScript, embedded so the binary needs no
// files beside it and the page loads nothing from outside the server.
//
//go:embed viewer
var viewerFiles embed.FS

// viewerCSP allows the page to load only its own files and talk only to this server (fetch and
// EventSource). No inline script, no frames: the page shows audit data, so injected markup must
// not run.
const viewerCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const viewerAssetsPath = "/assets/{file}"

func (a *api) viewerRoutes() {
	root, err := fs.Sub(viewerFiles, "viewer")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	assets := http.FileServerFS(root)
	a.served = append(a.served, "GET /", "GET "+viewerAssetsPath)
	a.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		setViewerHeaders(w)
		http.ServeFileFS(w, r, root, "index.html")
	})
	a.mux.HandleFunc("GET "+viewerAssetsPath, func(w http.ResponseWriter, r *http.Request) {
		if name := r.PathValue("file"); name == "index.html" || !fs.ValidPath(name) {
			writeError(w, notFound("no such endpoint: "+quote(r.URL.Path)))
			return
		}
		setViewerHeaders(w)
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + r.PathValue("file")
		assets.ServeHTTP(w, r2)
	})
}

func setViewerHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", viewerCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Revalidate: a new collector version must not run with the old script.
	h.Set("Cache-Control", "no-cache")
}
