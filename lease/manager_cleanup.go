package lease

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
)

// Leftovers removes, unless dryRun, the leftovers of interrupted creations
// of the database (files written aside that were never renamed into
// place) and returns their paths. It works under the exclusive lock, so a
// creation in progress is never touched, and creates nothing: without a
// directory or a lock file there is nothing an aliaslease made. The lock
// file itself is never removed.
func (m *Manager) Leftovers(ctx context.Context, dryRun bool) ([]string, error) {
	d, err := safefile.OpenDir(filepath.Dir(m.Path), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	base := filepath.Base(m.Path)
	o := (&storeOptions{LockTimeout: m.LockTimeout, Command: m.Command}).withDefaults()
	lk, err := lockDB(ctx, d, base, o, func() error { return nil })
	if err != nil || lk == nil {
		return nil, err
	}
	defer lk.Unlock()
	names := d.Leftovers(base, dryRun)
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(filepath.Dir(m.Path), n)
	}
	return paths, nil
}
