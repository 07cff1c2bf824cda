package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplace_WritesNewContentOverAStaleTempAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mark")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o640))
	// What a crash between the temp write and the rename leaves behind.
	require.NoError(t, os.WriteFile(path+".tmp", []byte("half-written and longer than new"), 0o640))

	require.NoError(t, Replace(path, []byte("new"), 0o640))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))
	_, err = os.Stat(path + ".tmp")
	assert.ErrorIs(t, err, os.ErrNotExist)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), info.Mode().Perm())
}

func TestReplace_AMissingDirectoryIsAnErrorAndWritesNothing(t *testing.T) {
	err := Replace(filepath.Join(t.TempDir(), "missing", "mark"), []byte("x"), 0o640)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestWriteTemp_NamesByPatternWithPrivateMode(t *testing.T) {
	dir := t.TempDir()
	name, err := WriteTemp(dir, "batch.*.tmp", []byte("records"))
	require.NoError(t, err)
	assert.Equal(t, dir, filepath.Dir(name))
	assert.Regexp(t, `^batch\..*\.tmp$`, filepath.Base(name))
	info, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "audit data is readable by its owner only")
	require.NoError(t, SyncDir(dir))
	assert.Error(t, SyncDir(filepath.Join(dir, "missing")))
}
