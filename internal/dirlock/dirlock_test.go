package dirlock

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAcquire_ASecondHolderIsRefusedWithTheDirAndThePID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := Acquire(dir)
	require.NoError(t, err)
	defer first.Release()
	// flock locks belong to the open file description: a second Acquire in this process
	// conflicts just as another process would.
	_, err = Acquire(dir)
	require.ErrorIs(t, err, ErrHeld, "second Acquire")
	assert.ErrorContains(t, err, dir, "the error names the directory")
	assert.ErrorContains(t, err, fmt.Sprint(os.Getpid()), "the error names the holder's pid")
	require.NoError(t, first.Release())
	again, err := Acquire(dir)
	require.NoError(t, err, "Acquire after Release")
	again.Release()
	again.Release() // twice is safe
}

// A holder killed with SIGKILL leaves no stale lock: the kernel releases flock with the
// process.
func TestAcquire_AKilledHoldersLockIsFree(t *testing.T) {
	if os.Getenv("DIRLOCK_HOLD") != "" {
		if _, err := Acquire(os.Getenv("DIRLOCK_HOLD")); err != nil {
			os.Exit(2)
		}
		fmt.Println("held")
		time.Sleep(time.Minute) // hold the lock until the parent kills this process
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestAcquire_AKilledHoldersLockIsFree$")
	cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 4)
	_, err = out.Read(buf)
	require.NoError(t, err, "the child did not take the lock")
	require.Equal(t, "held", string(buf), "the child did not take the lock")
	_, err = Acquire(dir)
	require.ErrorIs(t, err, ErrHeld, "Acquire while the child holds it")
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	l, err := Acquire(dir)
	require.NoError(t, err, "Acquire after the holder was killed")
	l.Release()
}
