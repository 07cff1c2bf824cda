package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations with microsecond resolution in log-linear buckets: exact below
// 32 µs, then 16 buckets per power of two, so a quantile is off by at most 1/32 of its value
// (it reports the middle of its bucket). It has a fixed size whatever the count, and Merge
// combines per-sender histograms without locks on the hot path. The zero value is ready.
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

const (
	histLinear  = 32 // values below are their own bucket
	histSubBits = 4  // 2^4 = 16 buckets per power of two above histLinear
	histBuckets = histLinear + (64-5)<<histSubBits
)

// bucketOf maps a value in microseconds to its bucket. Invariant: bucketOf is monotonic, and
// bucketLow(bucketOf(v)) <= v < bucketLow(bucketOf(v)+1).
func bucketOf(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	p := bits.Len64(us) - 1 // 2^p <= us < 2^(p+1), p >= 5
	shift := p - histSubBits
	sub := int(us>>shift) - 1<<histSubBits
	return histLinear + (p-5)<<histSubBits + sub
}

// bucketLow is the smallest value in microseconds of bucket i.
func bucketLow(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	i -= histLinear
	p := i>>histSubBits + 5
	sub := uint64(i & (1<<histSubBits - 1))
	return (1<<histSubBits + sub) << (p - histSubBits)
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))]++
	if h.total == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.total++
	h.sum += d
}

// Merge adds o's observations to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
	h.sum += o.sum
}

// Count is the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded duration, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the exact mean of the recorded durations.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.sum / time.Duration(h.total)
}

// Quantile returns the q-quantile (0 <= q <= 1): the observation of rank ceil(q*count), as
// the middle of its bucket clamped to the exact minimum and maximum, except that the first
// and last ranks are the exact minimum and maximum; 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(min(max(q, 0), 1) * float64(h.total)))
	switch {
	case rank <= 1:
		return h.min
	case rank >= h.total:
		return h.max
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen < rank {
			continue
		}
		lo := bucketLow(i)
		hi := bucketLow(i + 1) // exclusive
		mid := time.Duration(lo+(hi-lo-1)/2) * time.Microsecond
		return min(max(mid, h.min), h.max)
	}
	return h.max
}
