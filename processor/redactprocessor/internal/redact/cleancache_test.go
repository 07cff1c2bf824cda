package redact

import (
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cacheSecretValues holds every kind of secret the value rules find, alone, inside prose and
// at both ends of a value, at the cache's length bounds and just past them.
func cacheSecretValues() []string {
	secrets := []string{
		"password=hunter2",     // key_value: a password in text
		"token=abc123def456",   // key_value: a token in text
		"Bearer " + testJWT,    // bearer token, JWT
		testJWT,                // a bare JWT
		testCard,               // card number
		"4111 1111 1111 1111",  // card number in groups
		"AKIAIOSFODNN7EXAMPLE", // AWS access key id
		"ghp_U8JZpDE0iGXlD6gNCFbaEPFjbD0kH8Oool8D", // GitHub token
		"xoxb-2400000000001-2400000000002-GlkoMXGjtEkDnNfribxUdl7d",
		"sk_live_XTPyLsxPFkThf4VucSmEHgaK",        // Stripe key
		"AIzawVJ7faC9qEwjky40UVsWmflzdE1F8ResqED", // Google API key
		"postgres://app:s3cr3t@db:5432/audit",     // URL password
		"Basic dXNlcjpwYXNzd29yZA==",              // basic auth
		testPEM,                                   // private key
		`{"password":"x","note":"ok"}`,            // JSON document
	}
	var out []string
	for _, s := range secrets {
		out = append(out, s, "login failed: "+s+" from 203.0.113.7", s+" at the end", "at the start "+s)
		// Padded to the cache's bounds with the secret at either end.
		for _, n := range []int{cleanCacheMinLen, cleanCacheMaxLen, cleanCacheMaxLen + 1} {
			if pad := n - len(s) - 1; pad > 0 {
				out = append(out, s+" "+strings.Repeat("x", pad), strings.Repeat("x", pad)+" "+s)
			}
		}
	}
	return out
}

// Clean values that hash into the cache's slots: near misses of the secrets above (a card
// number failing Luhn, a JWT without its payload), paths, agents and timestamps.
func cacheCleanValues(n int) []string {
	out := []string{
		"4111111111111112", "4111 1111 1111 1112", "eyJhbGciOiJIUzI1NiJ9", "password policy updated",
		"/api/v1/documents/{id}/share", "2025-06-01T12:00:00.123456Z",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	}
	for i := 0; len(out) < n; i++ {
		out = append(out, fmt.Sprintf("feature-%d enabled for cohort %c", i, 'A'+rune(i%6)))
	}
	return out
}

// warm scans v until the cache remembers it (misses are admitted by chance, see remember),
// failing if it never does.
func warm(t *testing.T, r *Redactor, v string) {
	t.Helper()
	for range 1000 {
		require.Equal(t, v, r.RedactString(v, nil), "clean value %q changed", v)
		if _, ok := r.clean.known(v); ok {
			return
		}
	}
	t.Fatalf("%q was never remembered", v)
}

// The cache must never change what RedactString returns or reports: every secret is found
// every time, however often it and clean values were seen before, and however full the cache.
func TestRedactString_CacheNeverHidesASecret(t *testing.T) {
	r := newTestRedactor(t, Options{})
	secrets := cacheSecretValues()
	clean := cacheCleanValues(cleanCacheSlots / 4)
	for round := 0; round < 40; round++ {
		for _, c := range clean {
			require.Equal(t, c, r.RedactString(c, nil), "clean value %q changed", c)
		}
		for _, s := range secrets {
			var want, got Report
			wantOut := r.redactString(s, &want)
			require.NotEqual(t, s, wantOut, "test value %q holds no secret the rules find", s)
			gotOut := r.RedactString(s, &got)
			require.Equal(t, wantOut, gotOut, "round %d: %q", round, s)
			require.Equal(t, want, got, "round %d: report of %q", round, s)
		}
	}
	// The clean values really were remembered: the cache is in use, not bypassed.
	hits := 0
	for _, c := range clean {
		if _, ok := r.clean.known(c); ok {
			hits++
		}
	}
	assert.Greater(t, hits, len(clean)*3/4, "clean values remembered")
}

// A value at the length bounds is remembered (or not) and still answered as a scan would.
func TestRedactString_CacheBounds(t *testing.T) {
	r := newTestRedactor(t, Options{})
	for _, n := range []int{cleanCacheMinLen - 1, cleanCacheMinLen, cleanCacheMaxLen, cleanCacheMaxLen + 1} {
		v := strings.Repeat("a", n)
		if n >= cleanCacheMinLen && n <= cleanCacheMaxLen {
			warm(t, r, v)
			continue
		}
		for range 100 {
			require.Equal(t, v, r.RedactString(v, nil))
		}
		_, ok := r.clean.known(v)
		assert.False(t, ok, "length %d remembered", n)
	}
}

// A remembered value answers for its text, not for the memory it was read from: when that
// memory later holds a secret that falls in the same slot (a reused request buffer), the
// secret is found. (The copy itself is there so that the cache keeps no request alive.)
func TestRedactString_CacheKeepsACopyOfTheValue(t *testing.T) {
	r := newTestRedactor(t, Options{})
	const clean = "note: nothing to see here, plain text 000000"
	slot := func(s string) uint64 { return maphash.String(r.clean.seed, s) & (cleanCacheSlots - 1) }
	secret := ""
	for i := 0; secret == ""; i++ {
		if s := fmt.Sprintf("password=hunter%0*d", len(clean)-len("password=hunter"), i); slot(s) == slot(clean) {
			secret = s
		}
	}
	aliasedValueBuf = []byte(clean) // on the heap, as a request buffer is
	buf := aliasedValueBuf
	aliased := unsafe.String(&buf[0], len(buf)) // as pdata's decoder may hand values out
	warm(t, r, aliased)
	copy(buf, secret)
	var rep Report
	assert.Equal(t, "password=[REDACTED]", r.RedactString(aliased, &rep))
	assert.Equal(t, []string{RuleKeyValue}, rep.Rules)
}

var aliasedValueBuf []byte

// Concurrent callers share one Redactor: answers stay right while slots are replaced. Run
// with -race.
func TestRedactString_CacheIsSafeForConcurrentUse(t *testing.T) {
	r := newTestRedactor(t, Options{})
	secrets := cacheSecretValues()
	want := make([]string, len(secrets))
	for i, s := range secrets {
		want[i] = r.redactString(s, nil)
	}
	clean := cacheCleanValues(512)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 20; n++ {
				for i, s := range secrets {
					if got := r.RedactString(s, nil); got != want[i] {
						errs <- fmt.Sprintf("%q: got %q, want %q", s, got, want[i])
						return
					}
					c := clean[(g*31+n*7+i)%len(clean)]
					if got := r.RedactString(c, nil); got != c {
						errs <- fmt.Sprintf("clean %q changed to %q", c, got)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
