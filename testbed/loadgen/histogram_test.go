package loadgen

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuckets_AreContiguousAndMonotonic(t *testing.T) {
	prev := -1
	for _, us := range []uint64{0, 1, 31, 32, 33, 47, 48, 63, 64, 65, 1000, 1 << 20, 1<<20 + 12345, 1 << 40} {
		i := bucketOf(us)
		require.GreaterOrEqual(t, i, prev, "bucketOf(%d) = %d is below the bucket of a smaller value (%d)", us, i, prev)
		prev = i
		lo, next := bucketLow(i), bucketLow(i+1)
		require.GreaterOrEqual(t, us, lo, "%d µs falls in bucket %d = [%d, %d)", us, i, lo, next)
		require.Less(t, us, next, "%d µs falls in bucket %d = [%d, %d)", us, i, lo, next)
	}
	for i := 0; i < histBuckets-2; i++ {
		require.Equal(t, i, bucketOf(bucketLow(i)), "bucket %d starts at %d, which maps to another bucket", i, bucketLow(i))
	}
}

func TestHistogram_QuantilesAreWithinBucketPrecisionOfExactOnes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var exact []time.Duration
	for range 100_000 {
		// Log-normal-ish latencies from 50 µs to a few hundred ms, as acknowledgements are.
		d := time.Duration(50+rng.ExpFloat64()*rng.ExpFloat64()*4000) * time.Microsecond
		h.Record(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := exact[int(q*float64(len(exact)))-1]
		got := h.Quantile(q)
		diff := float64(got-want) / float64(want)
		assert.InDelta(t, 0, diff, 1.0/32+0.001, "p%v = %s, exact %s: off by %.1f%%, more than the 3.1%% bucket precision", q*100, got, want, diff*100)
	}
	assert.EqualValues(t, 100_000, h.Count(), "count")
	assert.Equal(t, exact[len(exact)-1], h.Max(), "max, want exactly")
}

func TestHistogram_SmallSetsAndEdges(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"an empty histogram reports zero", nil, 0.5, 0},
		{"a single value is every quantile", []time.Duration{7 * time.Millisecond}, 0.99, 7 * time.Millisecond},
		{"values below 32 µs are exact", []time.Duration{5 * time.Microsecond, 9 * time.Microsecond, 20 * time.Microsecond}, 0.5, 9 * time.Microsecond},
		{"the maximum quantile is the exact maximum", []time.Duration{time.Millisecond, 3*time.Second + 7}, 1, 3*time.Second + 7},
		{"the minimum quantile is clamped to the exact minimum", []time.Duration{1001 * time.Microsecond, time.Second}, 0, 1001 * time.Microsecond},
		{"a negative duration counts as zero", []time.Duration{-time.Second}, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			assert.Equal(t, tt.want, h.Quantile(tt.q), "Quantile(%v)", tt.q)
		})
	}
}

func TestHistogram_MergeEqualsRecordingEverythingInOne(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var merged Histogram
	merged.Merge(&a)
	merged.Merge(&b)
	merged.Merge(&Histogram{})
	require.Equal(t, all, merged, "merged histogram differs: p50 %s vs %s, count %d vs %d, mean %s vs %s",
		merged.Quantile(0.5), all.Quantile(0.5), merged.Count(), all.Count(), merged.Mean(), all.Mean())
}
