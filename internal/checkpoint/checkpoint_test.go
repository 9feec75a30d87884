package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTripAndAtomicWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got, err := Read(dir)
	require.NoError(t, err)
	require.Empty(t, got, "no file: nothing checkpointed")

	want := map[Partition]int64{{"app-b-changelog", 2}: 17, {"app-a-changelog", 2}: 0, {"app-a-changelog", 10}: 1 << 40}
	require.NoError(t, Write(dir, want))
	got, err = Read(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	require.NoError(t, err)
	require.Equal(t, "0\n3\napp-a-changelog 2 0\napp-a-changelog 10 1099511627776\napp-b-changelog 2 17\n", string(data))

	require.NoError(t, Write(dir, map[Partition]int64{}))
	got, err = Read(dir)
	require.NoError(t, err)
	require.Empty(t, got)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")

	require.NoError(t, Remove(dir))
	require.NoError(t, Remove(dir), "removing a missing file is fine")
}

func TestCorruptFiles(t *testing.T) {
	t.Parallel()
	for name, data := range map[string]string{
		"empty":             "",
		"bad version":       "1\n0\n",
		"no count":          "0\n",
		"bad count":         "0\nx\n",
		"negative count":    "0\n-1\n",
		"short":             "0\n2\nt 0 1\n",
		"too long":          "0\n1\nt 0 1\nt 1 1\n",
		"two fields":        "0\n1\nt 0\n",
		"negative offset":   "0\n1\nt 0 -5\n",
		"negative part":     "0\n1\nt -1 5\n",
		"bad number":        "0\n1\nt 0 x\n",
		"partition too big": "0\n1\nt 4294967296 1\n",
		"duplicate":         "0\n2\nt 0 1\nt 0 2\n",
		"empty topic":       "0\n1\n 0 1\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(data))
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), []byte("garbage"), 0o644))
	_, err := Read(dir)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, FileName)
}

// FuzzDecode: no input panics, and whatever decodes encodes back to a file
// that decodes to the same offsets.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("0\n1\nt 0 1\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n2\na 1 2\nb 3 4\n"))
	f.Add([]byte("1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		offsets, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Decode(Encode(offsets))
		require.NoError(t, err)
		require.Equal(t, offsets, again)
	})
}
