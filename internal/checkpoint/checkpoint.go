// Package checkpoint reads and writes a task's .checkpoint file: for each
// changelog partition, the offset up to which the task's persistent stores
// reflect it, so that a restart restores only what came after.
//
// The format is Kafka Streams' OffsetCheckpoint, version 0:
//
//	0
//	<number of entries>
//	<topic> <partition> <offset>
//	...
package checkpoint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// FileName is the checkpoint file's name in a task directory.
const FileName = ".checkpoint"

// ErrCorrupt is wrapped by Read and Decode for a file that is not a valid
// checkpoint; the caller then restores from the beginning.
var ErrCorrupt = errors.New("checkpoint: corrupt")

// Partition names a changelog partition.
type Partition struct {
	Topic     string
	Partition int32
}

// Encode returns the file contents for offsets, sorted for stable output.
func Encode(offsets map[Partition]int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(offsets))
	keys := slices.SortedFunc(maps.Keys(offsets), func(a, c Partition) int {
		if a.Topic != c.Topic {
			return strings.Compare(a.Topic, c.Topic)
		}
		return int(a.Partition - c.Partition)
	})
	for _, p := range keys {
		fmt.Fprintf(&b, "%s %d %d\n", p.Topic, p.Partition, offsets[p])
	}
	return b.Bytes()
}

// Decode parses a checkpoint file. Anything malformed (wrong version or
// count, a bad line, a negative number, a partition listed twice) is an
// error wrapping ErrCorrupt.
func Decode(data []byte) (map[Partition]int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return sc.Text(), true
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrCorrupt, line, fmt.Sprintf(format, args...))
	}
	v, ok := next()
	if !ok {
		return nil, fmt.Errorf("%w: empty file", ErrCorrupt)
	}
	if v != "0" {
		return nil, corrupt("version %q, want 0", v)
	}
	c, ok := next()
	if !ok {
		return nil, corrupt("no entry count")
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 0 {
		return nil, corrupt("entry count %q", c)
	}
	offsets := make(map[Partition]int64, min(n, 1024))
	for range n {
		l, ok := next()
		if !ok {
			return nil, corrupt("%d entries announced, %d found", n, len(offsets))
		}
		f := strings.Split(l, " ")
		if len(f) != 3 || f[0] == "" {
			return nil, corrupt("want \"<topic> <partition> <offset>\", got %q", l)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		o, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || p < 0 || o < 0 {
			return nil, corrupt("bad partition or offset in %q", l)
		}
		key := Partition{Topic: f[0], Partition: int32(p)}
		if _, dup := offsets[key]; dup {
			return nil, corrupt("%s-%d listed twice", key.Topic, key.Partition)
		}
		offsets[key] = o
	}
	if l, ok := next(); ok {
		return nil, corrupt("unexpected line %q after %d entries", l, n)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return offsets, nil
}

// Read reads dir's checkpoint file. A missing file is no error: it returns
// an empty map.
func Read(dir string) (map[Partition]int64, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return map[Partition]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: reading %s: %w", dir, err)
	}
	offsets, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FileName), err)
	}
	return offsets, nil
}

// Write replaces dir's checkpoint file atomically: it writes a temporary
// file, syncs it and renames it over the old one, so a crash leaves the
// old file or the new one, never half of either.
func Write(dir string, offsets map[Partition]int64) error {
	tmp, err := os.CreateTemp(dir, FileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	_, err = tmp.Write(Encode(offsets))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, FileName))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("checkpoint: writing %s: %w", dir, err)
	}
	return nil
}

// Remove deletes dir's checkpoint file, if there is one.
func Remove(dir string) error {
	err := os.Remove(filepath.Join(dir, FileName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
