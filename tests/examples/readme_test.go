package examples

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeSection returns the README's section under heading, up to the next heading of its level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	raw, err := os.ReadFile(repoPath("README.md"))
	require.NoError(t, err)
	readme := string(raw)
	start := strings.Index(readme, heading+"\n")
	require.GreaterOrEqual(t, start, 0, "README has no %q", heading)
	rest := readme[start+len(heading):]
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// fencedBlocks returns the bodies of the section's ```lang code blocks.
func fencedBlocks(section, lang string) []string {
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// normalize drops each line's indentation and trailing space, so that an excerpt shown at a
// lower indentation than in its function still matches.
func normalize(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

// TestReadmeSnippetsAreTheExamplesCode keeps the README's SDK snippets true: each is an excerpt,
// line for line, of an example that tests/examples runs against the collector.
func TestReadmeSnippetsAreTheExamplesCode(t *testing.T) {
	section := readmeSection(t, "## From an application with an OpenTelemetry SDK")
	for _, tc := range []struct{ lang, source string }{
		{"go", repoPath("examples", "go", "main.go")},
		{"js", repoPath("examples", "node", "server.js")},
	} {
		src, err := os.ReadFile(tc.source)
		require.NoError(t, err)
		blocks := fencedBlocks(section, tc.lang)
		require.NotEmpty(t, blocks, "the README shows no %s snippet", tc.lang)
		for _, b := range blocks {
			assert.True(t, strings.Contains(normalize(string(src)), normalize(b)),
				"this README %s snippet is not an excerpt of %s:\n%s", tc.lang, tc.source, b)
		}
	}
}

// TestReadmeNamesTheExamplesVersions: the versions the README quotes are the ones the examples
// lock, so a user who copies them gets what CI ran.
func TestReadmeNamesTheExamplesVersions(t *testing.T) {
	section := readmeSection(t, "## From an application with an OpenTelemetry SDK")

	gomod, err := os.ReadFile(repoPath("examples", "go", "go.mod"))
	require.NoError(t, err)
	goVersions := regexp.MustCompile("`(go\\.opentelemetry\\.io/[^ `]+) (v[^`]+)`").FindAllStringSubmatch(section, -1)
	require.NotEmpty(t, goVersions, "the README names no Go module version")
	for _, m := range goVersions {
		assert.Regexp(t, `(?m)^\s*(require\s+)?`+regexp.QuoteMeta(m[1]+" "+m[2])+`(\s|$)`, string(gomod), "README names %s %s; examples/go/go.mod differs", m[1], m[2])
	}

	raw, err := os.ReadFile(repoPath("examples", "node", "package-lock.json"))
	require.NoError(t, err)
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	require.NoError(t, json.Unmarshal(raw, &lock))
	npmVersions := regexp.MustCompile("`(@opentelemetry/[^@`]+)@([^`]+)`").FindAllStringSubmatch(section, -1)
	require.NotEmpty(t, npmVersions, "the README names no npm package version")
	for _, m := range npmVersions {
		assert.Equal(t, m[2], lock.Packages["node_modules/"+m[1]].Version, "README names %s@%s; examples/node/package-lock.json locks another", m[1], m[2])
	}
}

// TestReadmeFirstScreenShowsPortsAndConfigOverride: what a new user needs before scrolling, the
// five listeners of the default config and how to run another config.
func TestReadmeFirstScreenShowsPortsAndConfigOverride(t *testing.T) {
	raw, err := os.ReadFile(repoPath("README.md"))
	require.NoError(t, err)
	lines := strings.Split(string(raw), "\n")
	require.Greater(t, len(lines), 40)
	first := strings.Join(lines[:40], "\n")
	cfg, err := os.ReadFile(repoPath("otelcol-audit", "config.yaml"))
	require.NoError(t, err)
	for _, port := range []string{"127.0.0.1:4317", "127.0.0.1:4318", "127.0.0.1:8088", "127.0.0.1:8089", "127.0.0.1:8888"} {
		assert.Contains(t, first, port, "the README's first 40 lines name %s", port)
	}
	for _, listen := range []string{"127.0.0.1:4317", "127.0.0.1:4318", "127.0.0.1:8088", "127.0.0.1:8089", "port: 8888"} {
		assert.Contains(t, string(cfg), listen, "the default config listens where the README says")
	}
	assert.Contains(t, first, "CONFIG=", "the first screen says how to run another config")
}
