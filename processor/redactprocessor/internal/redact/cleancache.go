package redact

import (
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"sync/atomic"
)

// Audit records repeat most of their values (user agents, paths, methods, tenants, users,
// timestamps of fixed formats), and scanning a value is a pure function of its text and the
// Redactor's immutable rules. cleanCache remembers values that the value rules found nothing
// in, so a repeat is answered by one hash and one comparison of the whole text instead of a
// scan. Only values with no finding at all are remembered: a value with a secret is scanned
// every time, and no secret is ever kept here. A hit requires the cached text to equal the
// value byte for byte, so the cache can never let a value through that a scan would change.
//
// Direct-mapped and lock-free, like keyCache. A value is stored on its second considered clean
// sighting in a slot (the first leaves its hash there), so one-off values (random ids,
// addresses) neither allocate nor evict the repeated ones. Memory is bounded by cleanCacheSlots times
// cleanCacheMaxLen.
const (
	cleanCacheSlots  = 4096 // a power of two
	cleanCacheMinLen = 8    // shorter values scan faster than they hash
	cleanCacheMaxLen = 256
	cleanCacheSample = 4
)

type cleanCache struct {
	seed maphash.Seed
	// seen is, per slot, the hash of the last clean value that missed (the admission test);
	// hashes the hash of the value in slots, read first so that a miss (most one-off values)
	// does not follow the pointer. Only the comparison of the text decides a hit.
	seen   [cleanCacheSlots]atomic.Uint64
	hashes [cleanCacheSlots]atomic.Uint64
	slots  [cleanCacheSlots]atomic.Pointer[string]
}

func newCleanCache() *cleanCache { return &cleanCache{seed: maphash.MakeSeed()} }

// cacheable reports whether s is a length the cache takes.
func cacheable(s string) bool { return len(s) >= cleanCacheMinLen && len(s) <= cleanCacheMaxLen }

// known reports whether s is remembered as clean; h is its hash, for remember.
func (c *cleanCache) known(s string) (h uint64, ok bool) {
	h = maphash.String(c.seed, s)
	i := h & (cleanCacheSlots - 1)
	if c.hashes[i].Load() != h {
		return h, false
	}
	p := c.slots[i].Load()
	return h, p != nil && *p == s
}

// remember notes that s (of hash h) holds nothing the value rules find. s is copied: it may
// point into a request's buffer. Only one clean miss in cleanCacheSample is considered: each
// one stores to a slot shared by every core, and in the profile those stores, one per one-off
// value, cost as much as the lookups; a repeated value is still admitted after a few more
// sightings.
func (c *cleanCache) remember(s string, h uint64) {
	if rand.Uint32()%cleanCacheSample != 0 {
		return
	}
	i := h & (cleanCacheSlots - 1)
	if c.seen[i].Load() != h {
		c.seen[i].Store(h) // first sighting in this slot
		return
	}
	v := strings.Clone(s)
	c.slots[i].Store(&v)
	c.hashes[i].Store(h)
}
