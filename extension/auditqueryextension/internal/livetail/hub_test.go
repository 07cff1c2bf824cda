package livetail

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-audit/otelcol-audit/internal/record"
	"github.com/otelcol-audit/otelcol-audit/internal/store"
)

func records(tenant string, from, n int) []record.Record {
	out := make([]record.Record, n)
	for i := range out {
		out[i] = record.Record{ID: strconv.Itoa(from + i), TenantID: tenant, Level: record.LevelInfo, Message: "m"}
	}
	return out
}

// next reads one event or fails the test after a second.
func next(t *testing.T, sub *Subscription) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	require.NoError(t, err)
	return ev
}

// describe renders events as "id" or "lagged:N" for compact assertions.
func describe(evs []Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		if ev.Entry != nil {
			out[i] = ev.Entry.Record.ID
		} else {
			out[i] = "lagged:" + strconv.FormatInt(ev.Skipped, 10)
		}
	}
	return out
}

func TestHub_DeliversMatchingRecordsInPublishOrder(t *testing.T) {
	h := New(Options{})
	acme, err := h.Subscribe(NewMatcher(store.Filter{TenantID: "acme"}))
	require.NoError(t, err)
	defer acme.Close()

	h.Publish(records("acme", 0, 2))
	h.Publish(records("globex", 2, 2))
	h.Publish(records("acme", 4, 1))

	got := []Event{next(t, acme), next(t, acme), next(t, acme)}
	assert.Equal(t, []string{"0", "1", "4"}, describe(got))
	body, err := got[0].Entry.JSON()
	require.NoError(t, err)
	assert.Contains(t, string(body), `"tenant_id":"acme"`)
}

func TestHub_AFullQueueLosesTheNewestAndMarksTheGapWhereItHappened(t *testing.T) {
	h := New(Options{BufferSize: 3})
	sub, err := h.Subscribe(Matcher{})
	require.NoError(t, err)
	defer sub.Close()

	h.Publish(records("t", 0, 5)) // 0,1,2 fit; 3,4 are lost
	assert.Equal(t, "0", next(t, sub).Entry.Record.ID)
	h.Publish(records("t", 5, 1)) // fits again, after the gap of 2
	h.Publish(records("t", 6, 3)) // the queue holds 1,2,5: full, all three are lost

	var got []Event
	for range 5 {
		got = append(got, next(t, sub))
	}
	// 6,7,8 arrived while 1,2,5 filled the queue: they are lost and reported after 5.
	assert.Equal(t, []string{"1", "2", "lagged:2", "5", "lagged:3"}, describe(got))
}

func TestHub_PublishNeverWaitsForASubscriberThatDoesNotRead(t *testing.T) {
	h := New(Options{})
	slow, err := h.Subscribe(Matcher{})
	require.NoError(t, err)
	defer slow.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10_000 {
			h.Publish(records("t", i, 1))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that reads nothing")
	}
	var got []Event
	for range DefaultBufferSize + 1 {
		got = append(got, next(t, slow))
	}
	assert.Equal(t, "0", got[0].Entry.Record.ID)
	assert.Equal(t, strconv.Itoa(DefaultBufferSize-1), got[DefaultBufferSize-1].Entry.Record.ID)
	assert.Equal(t, int64(10_000-DefaultBufferSize), got[DefaultBufferSize].Skipped, "the subscriber learns exactly how many it lost")
}

func TestHub_ASubscriberBeyondMaxSkippedIsEnded(t *testing.T) {
	h := New(Options{BufferSize: 2, MaxSkipped: 3})
	sub, err := h.Subscribe(Matcher{})
	require.NoError(t, err)
	defer sub.Close()

	h.Publish(records("t", 0, 5)) // 3 lost: at the limit, still open
	assert.Equal(t, "0", next(t, sub).Entry.Record.ID)
	h.Publish(records("t", 5, 3)) // queue has room for one; 2 more lost: 5 > 3
	_, err = sub.Next(context.Background())
	assert.ErrorIs(t, err, ErrTooFarBehind)
	<-sub.Done()
}

func TestHub_CloseEndsEverySubscriptionAndRefusesNewOnes(t *testing.T) {
	h := New(Options{})
	var subs []*Subscription
	for range 3 {
		s, err := h.Subscribe(Matcher{})
		require.NoError(t, err)
		subs = append(subs, s)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(subs))
	for i, s := range subs {
		wg.Go(func() { _, errs[i] = s.Next(context.Background()) })
	}
	h.Close()
	wg.Wait()
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrClosed)
	}
	_, err := h.Subscribe(Matcher{})
	assert.ErrorIs(t, err, ErrClosed)
	assert.Zero(t, h.Subscribers())
	h.Close()
	h.Publish(records("t", 0, 1)) // harmless after Close
	subs[0].Close()               // harmless after the hub closed
}

func TestHub_NextStopsWithItsContext(t *testing.T) {
	h := New(Options{})
	sub, err := h.Subscribe(Matcher{})
	require.NoError(t, err)
	sub.Close()
	assert.Zero(t, h.Subscribers(), "Close unregisters")

	sub, err = h.Subscribe(Matcher{})
	require.NoError(t, err)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = sub.Next(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestHub_SetMatcherAppliesToQueuedAndLaterRecordsAndKeepsLagNotices(t *testing.T) {
	h := New(Options{BufferSize: 4})
	sub, err := h.Subscribe(Matcher{})
	require.NoError(t, err)
	defer sub.Close()

	recs := append(records("acme", 0, 2), records("globex", 2, 2)...)
	h.Publish(recs)                  // 0,1 (acme), 2,3 (globex) fill the queue
	h.Publish(records("acme", 4, 1)) // lost: reported before the next record read
	sub.SetMatcher(NewMatcher(store.Filter{TenantID: "globex"}))
	h.Publish(records("acme", 5, 1)) // no longer matches
	h.Publish(records("globex", 6, 1))

	var got []Event
	for range 4 {
		got = append(got, next(t, sub))
	}
	assert.Equal(t, []string{"2", "3", "lagged:1", "6"}, describe(got), "after SetMatcher only globex's records, and the gap still reported")
}
