package clickhousestore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedOnceConn is a driver.Conn whose first read fails as a pooled connection closed
// meanwhile does; later reads answer 42. Only Query and QueryRow are implemented.
type closedOnceConn struct {
	driver.Conn
	calls int
	err   error // of the first call
}

// The error CI printed, wrapped as the driver wraps it.
var errClosedRead = fmt.Errorf("query processing: failed to read first block packet from 127.0.0.1:35457 (conn_id=1): %w",
	&net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed})

func (c *closedOnceConn) QueryRow(context.Context, string, ...any) driver.Row {
	c.calls++
	if c.calls == 1 {
		return fakeRow{err: c.err}
	}
	return fakeRow{}
}

func (c *closedOnceConn) Query(context.Context, string, ...any) (driver.Rows, error) {
	c.calls++
	if c.calls == 1 {
		return nil, c.err
	}
	return nil, nil
}

type fakeRow struct {
	driver.Row
	err error
}

func (r fakeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	*dest[0].(*uint64) = 42
	return nil
}

func TestNativeConn_RetriesAReadWhoseConnectionWasClosed(t *testing.T) {
	fake := &closedOnceConn{err: errClosedRead}
	var n uint64
	require.NoError(t, nativeConn{fake}.QueryRow(context.Background(), "SELECT 42").Scan(&n))
	assert.Equal(t, uint64(42), n)
	assert.Equal(t, 2, fake.calls, "one retry")

	fake = &closedOnceConn{err: errClosedRead}
	_, err := nativeConn{fake}.Query(context.Background(), "SELECT 42")
	require.NoError(t, err)
	assert.Equal(t, 2, fake.calls, "one retry")
}

func TestNativeConn_DoesNotRetryOtherErrors(t *testing.T) {
	other := errors.New("code: 60, message: Table x doesn't exist")
	fake := &closedOnceConn{err: other}
	var n uint64
	assert.ErrorIs(t, nativeConn{fake}.QueryRow(context.Background(), "SELECT 42").Scan(&n), other)
	assert.Equal(t, 1, fake.calls)
}
