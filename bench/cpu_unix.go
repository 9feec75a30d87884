//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuTime is the user and system CPU time the process has used so far: the
// system under test and the in-process broker together.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
