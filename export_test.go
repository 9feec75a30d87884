package streams

import "time"

// SetRestoreProgressEvery sets how often the restores of apps made with
// cfg log their progress.
func SetRestoreProgressEvery(cfg *Config, d time.Duration) { cfg.restoreProgressEvery = d }
