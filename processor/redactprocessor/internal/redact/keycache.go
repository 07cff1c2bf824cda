package redact

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// Key classification is a pure function of the key and the Redactor's immutable rules, and
// audit records repeat the same few dozen keys in every record: remembering recent verdicts
// saves normalising and matching each key again (the largest cost of the field rules in the
// collector's profile). The cache is two-way set-associative and lock-free: a key hashes to
// a pair of slots holding the last two keys that hashed there (two keys of every record that
// share a slot must not evict each other on every record), a lookup compares the whole key, so
// a collision or a miss only costs a fresh classification, never a wrong verdict. Its memory
// is bounded by slots times the longest cached key.
const (
	keyCacheSlots  = 2048 // a power of two
	keyCacheMaxLen = 128  // longer keys are classified every time
)

type keyCacheEntry struct {
	key     string
	verdict KeyVerdict
	rule    string
}

type keyCache struct {
	seed  maphash.Seed
	slots [keyCacheSlots]atomic.Pointer[keyCacheEntry]
}

func newKeyCache() *keyCache { return &keyCache{seed: maphash.MakeSeed()} }

// set is the pair of slots key may be in.
func (c *keyCache) set(key string) []atomic.Pointer[keyCacheEntry] {
	i := maphash.String(c.seed, key) & (keyCacheSlots - 1) &^ 1
	return c.slots[i : i+2]
}

// get returns the cached verdict of key, if any.
func (c *keyCache) get(key string) (KeyVerdict, string, bool) {
	if len(key) > keyCacheMaxLen {
		return 0, "", false
	}
	set := c.set(key)
	for i := range set {
		if e := set[i].Load(); e != nil && e.key == key {
			return e.verdict, e.rule, true
		}
	}
	return 0, "", false
}

// put remembers key's verdict in the first slot of its pair, moving the key there to the
// second. The key is copied: it may point into a request's buffer or a JSON document, which
// the cache must not keep alive.
func (c *keyCache) put(key string, verdict KeyVerdict, rule string) {
	if len(key) > keyCacheMaxLen {
		return
	}
	set := c.set(key)
	if prev := set[0].Load(); prev != nil {
		set[1].Store(prev)
	}
	set[0].Store(&keyCacheEntry{key: strings.Clone(key), verdict: verdict, rule: rule})
}
