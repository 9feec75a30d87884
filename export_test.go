package streams

import "time"

// SetRestoreProgressEvery sets how often a's restores log their progress;
// call it before Run.
func SetRestoreProgressEvery(a *App, d time.Duration) { a.progressEvery = d }
