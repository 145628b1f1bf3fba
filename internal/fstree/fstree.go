//go:build unix

// Package fstree describes a directory tree so that tests can tell that
// nothing under it was created, removed, changed, re-moded or re-owned.
// Only tests import it.
package fstree

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// Snapshot describes every entry under dir, without following links: type
// and mode, owner, link count, inode, size, and a digest of each regular
// file. Entries that vanish while it walks are left out.
func Snapshot(dir string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) != nil {
			return nil
		}
		desc := fmt.Sprintf("mode=%o uid=%d nlink=%d ino=%d size=%d", st.Mode, st.Uid, st.Nlink, st.Ino, st.Size)
		if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
			if b, err := os.ReadFile(p); err == nil {
				desc += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
			}
		}
		out[p] = desc
		return nil
	})
	return out
}

// Diff names every difference between two snapshots, one line each,
// sorted: what appeared, changed or disappeared.
func Diff(before, after map[string]string) []string {
	var out []string
	for p, d := range after {
		if b, ok := before[p]; !ok {
			out = append(out, fmt.Sprintf("%s appeared (%s)", p, d))
		} else if b != d {
			out = append(out, fmt.Sprintf("%s changed: %s, was %s", p, d, b))
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, p+" disappeared")
		}
	}
	sort.Strings(out)
	return out
}

// Same fails t, naming what was done, for every difference between the
// tree as it was (before, a Snapshot) and as it is under dir now.
func Same(t interface {
	Helper()
	Errorf(format string, args ...any)
}, what, dir string, before map[string]string) {
	t.Helper()
	for _, d := range Diff(before, Snapshot(dir)) {
		t.Errorf("%s: %s", what, d)
	}
}
