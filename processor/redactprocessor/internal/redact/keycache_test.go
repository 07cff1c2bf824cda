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

// cacheProbeKeys covers every verdict and every secret kind a key can name, with near misses,
// case and separator variants, and keys at and around the cache's length bound.
func cacheProbeKeys() []string {
	keys := []string{
		"db.password", "passwd", "PWD", "user.passphrase", "client_secret", "sessionToken",
		"access_token", "refresh_tokens", "id_token", "auth-token", "X-Api-Key", "APIKey",
		"aws.access_key", "private_key", "privkey", "signing_key", "encryption_key",
		"Authorization", "proxy-authorization", "Set-Cookie", "cookie", "session.id",
		"aws.credentials", "ssn", "social_security_number", "card_number", "cc-number",
		"credit_card", "cvv", "cvc2", "pin", "otp", "jwt", "http.request.header.authorization",
		// near misses and plain keys
		"password_policy", "token_count", "gen_ai.usage.input_tokens", "secretary", "classname",
		"process.name", "user.id", "url.path", "http.request.method", "tenant.id", "audit.id",
		"sec_retention", "app.field_07", "",
		// allowed, ignored and suspect keys (see the options below)
		"Session.Id", "trace_id", "TRACE_ID", "api.nonce", "x.signature",
	}
	for _, n := range []int{keyCacheMaxLen - 1, keyCacheMaxLen, keyCacheMaxLen + 1, 300} {
		keys = append(keys, strings.Repeat("a", n-len("_password"))+"_password")
		keys = append(keys, strings.Repeat("b", n))
	}
	return keys
}

// The cache must never change a verdict: every key classifies as the uncached matcher says,
// the first time, the second time (from the cache) and after other keys took its slot.
func TestClassifyKey_CacheAnswersAsTheMatcher(t *testing.T) {
	for _, o := range []Options{
		{},
		{AllowKeys: []string{"session.id"}, IgnoreKeys: []string{"trace_id"}, AddFieldPatterns: []string{"nonce"}, RemoveFieldPatterns: []string{"pin"}},
		{DisableValueRules: []string{RuleHighEntropy}},
	} {
		r := newTestRedactor(t, o)
		keys := cacheProbeKeys()
		for round := 0; round < 3; round++ {
			for _, k := range keys {
				wantV, wantRule := r.classifyKey(k)
				v, rule := r.ClassifyKey(k)
				require.Equal(t, wantV, v, "options %+v, round %d, key %q", o, round, k)
				require.Equal(t, wantRule, rule, "options %+v, round %d, key %q", o, round, k)
			}
			// Evict: far more distinct keys than slots, secret and plain alternating.
			for i := 0; i < 3*keyCacheSlots; i++ {
				k := fmt.Sprintf("filler.%d", i)
				if i%2 == 0 {
					k = fmt.Sprintf("x%d_token", i)
				}
				v, _ := r.ClassifyKey(k)
				want, _ := r.classifyKey(k)
				require.Equal(t, want, v, "key %q", k)
			}
		}
	}
}

// A cached key is a copy: when the memory a plain key was read from later holds a secret key
// (a reused request buffer, a JSON document) that falls in the same slot, it is classified
// afresh.
func TestClassifyKey_CacheKeepsACopyOfTheKey(t *testing.T) {
	r := newTestRedactor(t, Options{})
	const plain = "app.field_name_0000000"
	slot := func(s string) uint64 { return maphash.String(r.keys.seed, s) & (keyCacheSlots - 1) &^ 1 }
	secret := ""
	for i := 0; secret == ""; i++ {
		if k := fmt.Sprintf("db.password.%0*d", len(plain)-len("db.password."), i); slot(k) == slot(plain) {
			secret = k
		}
	}
	aliasedKeyBuf = []byte(plain) // on the heap, as a request buffer is
	buf := aliasedKeyBuf
	aliased := unsafe.String(&buf[0], len(buf)) // as pdata's decoder may hand keys out
	v, _ := r.ClassifyKey(aliased)
	require.Equal(t, KeyPlain, v)
	copy(buf, secret)
	v, rule := r.ClassifyKey(aliased)
	assert.Equal(t, KeySecret, v)
	assert.Equal(t, "field:password", rule)
}

var aliasedKeyBuf []byte

// Two keys that share a pair of slots, both in every record, are both answered from the cache.
func TestClassifyKey_CollidingKeysStayCached(t *testing.T) {
	r := newTestRedactor(t, Options{})
	set := func(s string) uint64 { return maphash.String(r.keys.seed, s) & (keyCacheSlots - 1) &^ 1 }
	a, b := "app.field_00", ""
	for i := 1; b == ""; i++ {
		if k := fmt.Sprintf("app.field_%02d", i); set(k) == set(a) {
			b = k
		}
	}
	r.ClassifyKey(a)
	r.ClassifyKey(b)
	for _, k := range []string{a, b} {
		_, _, ok := r.keys.get(k)
		assert.True(t, ok, "%q cached", k)
	}
}

// Concurrent callers share one Redactor (the processor serves concurrent requests): verdicts
// stay right while slots are being replaced. Run with -race.
func TestClassifyKey_CacheIsSafeForConcurrentUse(t *testing.T) {
	r := newTestRedactor(t, Options{})
	keys := cacheProbeKeys()
	want := make([]KeyVerdict, len(keys))
	for i, k := range keys {
		want[i], _ = r.classifyKey(k)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				for i, k := range keys {
					if v, _ := r.ClassifyKey(k); v != want[i] {
						errs <- fmt.Sprintf("key %q: %v, want %v", k, v, want[i])
						return
					}
				}
				r.ClassifyKey(fmt.Sprintf("goroutine.%d.key.%d", g, n)) // churn the slots
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
