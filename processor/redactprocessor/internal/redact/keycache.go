package redact

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// Key classification is a pure function of the key and the Redactor's immutable rules, and
// audit records repeat the same few dozen keys in every record: remembering recent verdicts
// saves normalising and matching each key again (the largest cost of the field rules in the
// collector's profile). The cache is direct-mapped and lock-free: a slot holds the last key
// that hashed to it, a lookup compares the whole key, so a collision or a miss only costs a
// fresh classification, never a wrong verdict. Its memory is bounded by slots times the
// longest cached key.
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

func (c *keyCache) slot(key string) *atomic.Pointer[keyCacheEntry] {
	return &c.slots[maphash.String(c.seed, key)&(keyCacheSlots-1)]
}

// get returns the cached verdict of key, if any.
func (c *keyCache) get(key string) (KeyVerdict, string, bool) {
	if len(key) > keyCacheMaxLen {
		return 0, "", false
	}
	if e := c.slot(key).Load(); e != nil && e.key == key {
		return e.verdict, e.rule, true
	}
	return 0, "", false
}

// put remembers key's verdict. The key is copied: it may point into a request's buffer or a
// JSON document, which the cache must not keep alive.
func (c *keyCache) put(key string, verdict KeyVerdict, rule string) {
	if len(key) > keyCacheMaxLen {
		return
	}
	c.slot(key).Store(&keyCacheEntry{key: strings.Clone(key), verdict: verdict, rule: rule})
}
