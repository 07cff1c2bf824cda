package auditqueryextension

import (
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// userLimiter is a token bucket per caller: on average requests per window, in bursts of up to
// requests.
//
// Invariant: a bucket not used for a whole window has refilled completely, so forgetting it is
// the same as keeping it; sweep does that, which bounds the map by the callers of one window.
type userLimiter struct {
	every  rate.Limit
	burst  int
	window time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

// newUserLimiter returns nil (no limit) when requests is 0.
func newUserLimiter(requests int, window time.Duration) *userLimiter {
	if requests <= 0 {
		return nil
	}
	return &userLimiter{
		every:   rate.Limit(float64(requests) / window.Seconds()),
		burst:   requests,
		window:  window,
		buckets: map[string]*bucket{},
	}
}

// allow takes one token of key's bucket. When none is left it returns false and how long until
// one is.
func (l *userLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.window {
		for k, b := range l.buckets {
			if now.Sub(b.lastSeen) >= l.window {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	// A reservation tells how long until the next token; it is cancelled at once because the
	// refused request does not wait for it.
	res := b.lim.ReserveN(now, 1)
	wait := res.DelayFrom(now)
	res.CancelAt(now)
	return false, wait
}

// retryAfterSeconds rounds up: a client that retries after the advertised delay must succeed.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// exemptFromLimit: an unauthenticated request from a loopback address is the local operator
// (without auth every caller is an admin, and such a server listens on loopback unless
// allow_unauthenticated says otherwise); rate_limit.exempt_loopback leaves it unlimited.
func (a *api) exemptFromLimit(r *http.Request) bool {
	if a.authConfigured || !a.rateLimit.ExemptLoopback {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// callerKey is whose budget a request spends: the authenticated user (within its tenant), or,
// without auth where every caller is the same anonymous admin, the client's address.
func (a *api) callerKey(r *http.Request, p principal) string {
	if a.authConfigured {
		return "user:" + p.Tenant + "/" + p.User
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}
