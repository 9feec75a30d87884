package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockFile is the name of the lock file in the app's state directory and in
// each task directory.
const lockFile = ".lock"

// ErrStateDirLocked is wrapped by the error of an app whose state directory
// another running instance holds.
var ErrStateDirLocked = errors.New("streams: the state directory is in use by another instance")

// dirLock is an exclusive lock (flock) on a directory's lock file. flock
// locks belong to an open file, so two threads of one process that each
// open the file exclude each other as two processes do; the lock goes with
// the process, so a crash never leaves one behind.
type dirLock struct{ f *os.File }

// lockDir takes dir's lock, or fails at once if someone holds it.
func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (locked by %s)", ErrStateDirLocked, dir, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

// lockTaskDir takes a task directory's lock. Another thread of this
// process may hold it for a moment, when a rebalance moves the task between
// threads while its old owner closes it (it was lost, say): the lock is
// retried for a while, as Kafka Streams does, before it is an error.
func lockTaskDir(dir string) (*dirLock, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := lockDir(dir)
		if err == nil || !errors.Is(err, ErrStateDirLocked) || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *dirLock) unlock() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}

// LockAppDir takes the lock of an app's state directory, for CleanUp; it
// returns the function that lets it go.
func LockAppDir(dir string) (unlock func(), err error) {
	l, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("streams: %w", err)
	}
	return l.unlock, nil
}
