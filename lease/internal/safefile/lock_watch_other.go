//go:build !linux

package safefile

import "os"

// watchRelease is nil here: inotify is Linux's, and the wait polls.
func watchRelease(*os.File) *releaseWatch { return nil }
