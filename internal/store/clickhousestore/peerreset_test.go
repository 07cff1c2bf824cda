package clickhousestore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingConn fails every statement but the reload with err and records what it was sent.
type failingConn struct {
	conn
	err  error
	sent []string
}

func (f *failingConn) Exec(_ context.Context, sql string) error {
	f.sent = append(f.sent, sql)
	if sql == "SYSTEM RELOAD CONFIG" {
		return nil
	}
	return f.err
}

// The message CI printed (the shard at 127.0.0.1:43358 had been killed and restarted).
var outOfStep = &clickhouse.Exception{Code: 102, Name: "DB::NetException",
	Message: "Unexpected packet from server 127.0.0.1:43358 (expected TablesStatusResponse, got Unknown packet)"}

func TestPeerResettingConn_ReloadsOnceAnIntervalOnAnOutOfStepPeer(t *testing.T) {
	f := &failingConn{err: outOfStep}
	clock := time.Unix(1000, 0)
	p := newPeerResettingConn(f)
	p.now = func() time.Time { return clock }
	ctx := context.Background()

	err := p.Exec(ctx, "SELECT 1")
	require.Error(t, err)
	var ex *clickhouse.Exception
	require.True(t, errors.As(err, &ex), "the server's exception stays reachable: %v", err)
	assert.Equal(t, int32(102), ex.Code)
	assert.Contains(t, err.Error(), "SYSTEM RELOAD CONFIG", "the error says what the store did")
	assert.Equal(t, []string{"SELECT 1", "SYSTEM RELOAD CONFIG"}, f.sent)

	// Retries within the interval do not reload again.
	clock = clock.Add(peerResetInterval - time.Millisecond)
	require.ErrorIs(t, p.Exec(ctx, "SELECT 2"), outOfStep)
	assert.Equal(t, []string{"SELECT 1", "SYSTEM RELOAD CONFIG", "SELECT 2"}, f.sent)

	clock = clock.Add(time.Millisecond)
	require.Error(t, p.Exec(ctx, "SELECT 3"))
	assert.Equal(t, []string{"SELECT 1", "SYSTEM RELOAD CONFIG", "SELECT 2", "SELECT 3", "SYSTEM RELOAD CONFIG"}, f.sent)
}

func TestPeerResettingConn_LeavesOtherErrorsAlone(t *testing.T) {
	for _, err := range []error{
		&clickhouse.Exception{Code: 279, Message: "All connection tries failed"},
		&clickhouse.Exception{Code: 60, Message: "Table default.x doesn't exist."},
		errors.New("read: connection reset by peer"),
	} {
		f := &failingConn{err: err}
		p := newPeerResettingConn(f)
		got := p.Exec(context.Background(), "SELECT 1")
		assert.Equal(t, err, got, "passed through unchanged")
		assert.Equal(t, []string{"SELECT 1"}, f.sent, "no reload for %v", err)
	}
}
