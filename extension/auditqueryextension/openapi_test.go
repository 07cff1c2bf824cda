package auditqueryextension

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenAPI_DescribesExactlyTheRoutesTheMuxServes(t *testing.T) {
	h := testAPI(t, nil, nil, false)
	resp := get(h, openAPIPath)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "application/json; charset=utf-8", resp.header.Get("Content-Type"))

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(resp.body, &doc), "the document is JSON")
	assert.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "an OpenAPI 3 document, got %q", doc.OpenAPI)

	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)
	served := slices.Sorted(slices.Values(h.served))
	assert.Equal(t, served, documented, "every route is documented, and nothing else")
	assert.Contains(t, served, "GET "+streamPath)
	assert.Contains(t, served, "POST "+retentionPath)
}

func TestViewer_IsServedFromTheBinaryWithAStrictPolicy(t *testing.T) {
	h := testAPI(t, nil, nil, true) // auth configured: the page still loads, the data does not
	tests := []struct {
		name, target, contentType, contains string
	}{
		{"the page", "/", "text/html; charset=utf-8", `<script src="/assets/app.js"`},
		{"the script", "/assets/app.js", "text/javascript; charset=utf-8", "EventSource"},
		{"the style sheet", "/assets/app.css", "text/css; charset=utf-8", ".lvl-security"},
		{"the icon", "/assets/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(h, tt.target)
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			assert.Equal(t, tt.contentType, resp.header.Get("Content-Type"))
			assert.Contains(t, string(resp.body), tt.contains)
			assert.Contains(t, resp.header.Get("Content-Security-Policy"), "default-src 'none'")
			assert.Contains(t, resp.header.Get("Content-Security-Policy"), "connect-src 'self'")
		})
	}
	for _, target := range []string{"/assets/missing.js", "/assets/index.html", "/index.html", "/nope"} {
		assert.Equal(t, http.StatusNotFound, get(h, target).status, target)
	}
	page := get(h, "/")
	assert.NotContains(t, string(page.body), "http://", "the page loads nothing from elsewhere")
	assert.NotContains(t, string(page.body), "https://")
}

// Every filter the handlers accept is documented on the endpoints that take it, so a client
// generated from the document can use all of them.
func TestOpenAPI_DocumentsEveryFilterParameter(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	documented := func(path string) []string {
		var names []string
		for _, p := range doc.Paths[path]["get"].Parameters {
			names = append(names, p.Name)
		}
		return names
	}
	for _, name := range filterParams {
		assert.Contains(t, documented(logsPath), name, "GET %s does not document %s", logsPath, name)
	}
	for _, name := range streamFilterParams {
		assert.Contains(t, documented(streamPath), name, "GET %s does not document %s", streamPath, name)
	}
}
