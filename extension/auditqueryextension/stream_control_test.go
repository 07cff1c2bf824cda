package auditqueryextension

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// paddedFilter is a valid filter control message of exactly size bytes (padded with spaces,
// which JSON allows between tokens).
func paddedFilter(t *testing.T, size int) []byte {
	t.Helper()
	msg := []byte(`{"type":"filter","filter":{"scope":"db"}}`)
	require.LessOrEqual(t, len(msg), size)
	return append(msg, bytes.Repeat([]byte(" "), size-len(msg))...)
}

// A control message of 16 KiB is obeyed; one byte more closes the stream with 1009 (message too
// big), as the README says.
func TestStream_AControlMessageOverSixteenKiBClosesTheStream(t *testing.T) {
	s := startLive(t, nil)
	ws, _, err := dialWS(t, s.base, "", nil)
	require.NoError(t, err)
	s.waitSubscribers(t, 1)
	ctx := context.Background()

	require.NoError(t, ws.ws.Write(ctx, websocket.MessageText, paddedFilter(t, maxControlMessage)))
	ack := ws.next(t, 5*time.Second)
	assert.JSONEq(t, `{"type":"filter","filter":{"scope":"db"}}`, string(ack.data), "a 16 KiB message is obeyed")

	require.NoError(t, ws.ws.Write(ctx, websocket.MessageText, paddedFilter(t, maxControlMessage+1)))
	err = ws.ended(t, 5*time.Second)
	assert.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "close code: %v", err)
	var ce websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Reason, "16385", "the close reason names the limit")
}

// A binary message closes the stream with 1003 (unsupported data).
func TestStream_ABinaryControlMessageClosesTheStreamWith1003(t *testing.T) {
	s := startLive(t, nil)
	ws, _, err := dialWS(t, s.base, "", nil)
	require.NoError(t, err)
	s.waitSubscribers(t, 1)

	require.NoError(t, ws.ws.Write(context.Background(), websocket.MessageBinary, []byte(`{"type":"filter","filter":{}}`)))
	err = ws.ended(t, 5*time.Second)
	assert.Equal(t, websocket.StatusUnsupportedData, websocket.CloseStatus(err), "close code: %v", err)
	var ce websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "control messages are JSON text", ce.Reason)
}

// Control messages beyond 10 a second wait rather than being refused: 21 sent at once are each
// answered with an acknowledgement, in order, on a stream that stays open, and the last answer
// comes no sooner than the pace allows (10 at once, then one every 100 ms: at least 1.1 s).
// This is a lower bound on a rate the server enforces, not a measure of its speed.
func TestStream_ControlMessagesBeyondTenASecondWait(t *testing.T) {
	s := startLive(t, nil)
	ws, _, err := dialWS(t, s.base, "", nil)
	require.NoError(t, err)
	s.waitSubscribers(t, 1)
	ctx := context.Background()

	const n = 2*maxControlPerSecond + 1
	start := time.Now()
	scopes := make([]string, n)
	for i := range n {
		scopes[i] = "s" + strings.Repeat("x", i)
		require.NoError(t, ws.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"filter","filter":{"scope":"`+scopes[i]+`"}}`)))
	}
	for i := range n {
		ack := ws.next(t, 10*time.Second)
		assert.JSONEq(t, `{"type":"filter","filter":{"scope":"`+scopes[i]+`"}}`, string(ack.data), "answer %d", i+1)
	}
	assert.GreaterOrEqual(t, time.Since(start), time.Duration(n-maxControlPerSecond)*time.Second/maxControlPerSecond,
		"%d messages at a pace of %d a second", n, maxControlPerSecond)

	// Still open: it obeys one more message and then delivers a record.
	require.NoError(t, ws.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"filter","filter":{}}`)))
	assert.JSONEq(t, `{"type":"filter","filter":{}}`, string(ws.next(t, 10*time.Second).data), "the stream is still open")
	s.ext.publish(liveRecords("acme", "after", 0, 1, 10))
	assert.Equal(t, "after-00000", ws.next(t, 10*time.Second).id(t))
}
