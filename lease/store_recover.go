package lease

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
	bolt "go.etcd.io/bbolt"
)

// RecoverResult is what Recover did.
type RecoverResult struct {
	Leases  []Lease  // rebuilt, sorted by alias
	Skipped []string // why some labelled containers gave no lease
	Dropped []string // the existing database's leases that had to go (a merge), and why
	Kept    int      // how many of Leases were kept from the existing database (a merge)
	MovedTo string   // where the existing database was moved, if it was
}

// recoverDB rebuilds a lost or damaged database from the holders Docker
// reported: each slug whose labelled containers publish on pool aliases
// gets a lease on the lowest of them; an alias that containers of two
// slugs publish on is given to neither. It writes a new database only
// where none exists: an existing one is ErrExists (readable) or ErrCorrupt
// (damaged) unless force, which moves it aside, never deleting it; a
// readable one is merged then (see merge): its leases that no labelled
// holder contradicts are kept as they were. Only
// a regular file with one link that is a bbolt database (damaged or not)
// or empty is ever moved: anything else at the path is refused
// (ErrCorrupt, ErrUnsafePath), and no lock file is made beside it. The
// new database's generations start above any the old one can have handed
// out (at the current time in microseconds), so a late release naming an
// old generation cannot match a rebuilt lease.
func recoverDB(path string, opts *storeOptions, holders []Holder, pool Pool, now time.Time, force bool) (RecoverResult, error) {
	return recoverDBCtx(context.Background(), path, opts, holders, pool, now, force)
}

// recoverDBCtx is Recover, bounded by ctx: the wait for the lock ends
// when ctx does.
func recoverDBCtx(ctx context.Context, path string, opts *storeOptions, holders []Holder, pool Pool, now time.Time, force bool) (RecoverResult, error) {
	o := opts.withDefaults()
	o.Create, o.ReadOnly, o.Command = true, false, "recover"
	var res RecoverResult
	d, err := safefile.OpenDir(filepath.Dir(path), true)
	if err != nil {
		return res, err
	}
	defer d.Close()
	base := filepath.Base(path)
	// What is at the path is judged before a lock file is made beside it,
	// and once more under the lock.
	if _, err := assessExisting(d, base, o.LockTimeout, force); err != nil {
		return res, err
	}
	lk, err := lockDB(ctx, d, base, o, func() error { return nil })
	if err != nil {
		return res, err
	}
	defer lk.Unlock()
	found, err := assessExisting(d, base, o.LockTimeout, force)
	if err != nil {
		return res, err
	}
	var old []Lease // a readable database's leases, merged
	if found != nil {
		if old, err = readExisting(d, base, path, *found, o.LockTimeout); err != nil {
			old = nil // damaged: rebuilt from the holders alone
		}
		if res.MovedTo, err = moveAside(d, base, *found, now); err != nil {
			return res, err
		}
	}
	rebuilt, skipped := rebuild(holders, pool)
	kept, added, dropped := merge(old, rebuilt)
	res.Skipped, res.Dropped = skipped, dropped
	if err := writeRecovered(d, base, path, kept, added, now); err != nil {
		return res, err
	}
	res.Leases, res.Kept = append(kept, added...), len(kept)
	slices.SortFunc(res.Leases, byAlias)
	return res, nil
}

// writeRecovered creates the database base in d with the leases kept as
// they were and those added, whose generations start above any handed
// out before (and above the current time in microseconds).
func writeRecovered(d *safefile.Dir, base, path string, kept, added []Lease, now time.Time) error {
	s := &store{path: path, command: "recover"}
	_, err := create(d, base, func(tx *bolt.Tx) error {
		gen := uint64(now.UnixMicro())
		for _, l := range kept {
			gen = max(gen, l.Generation)
			if err := putLease(tx, l); err != nil {
				return err
			}
			if err := s.logEvent(tx, now, EventRecover, l, ReasonKept); err != nil {
				return err
			}
		}
		for i := range added {
			gen++
			l := &added[i]
			l.Generation, l.AcquiredAt, l.RenewedAt = gen, now.UTC(), now.UTC()
			if err := putLease(tx, *l); err != nil {
				return err
			}
			if err := s.logEvent(tx, now, EventRecover, *l, ReasonLabelledContainer); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyGeneration, seqKey(gen))
	})
	return err
}

// assessExisting judges what is at base in d for Recover. Nothing there:
// nil, nil. Otherwise it must be a regular file with one link that passes
// the ownership rules and is a bbolt database or empty; without force it
// is then ErrExists (readable) or ErrCorrupt (damaged), each with the
// hint to use force; with force its identity is returned, to be moved.
// Anything else is refused without that hint.
func assessExisting(d *safefile.Dir, base string, timeout time.Duration, force bool) (*safefile.Info, error) {
	path := filepath.Join(d.Path(), base)
	f, i, err := d.OpenAt(base, os.O_RDONLY, "database")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w; recover moves aside only a regular file that is a bbolt database or empty", err)
	}
	movable := i.Size() == 0 || safefile.LooksLikeBolt(f)
	f.Close()
	switch {
	case !movable:
		return nil, fmt.Errorf("%w: %s is not a bbolt database; recover moves aside only a database or an empty file: check --db", ErrNotDatabase, path)
	case force:
		return &i, nil
	}
	if err := checkExisting(d, base, path, i, timeout); err != nil {
		return nil, fmt.Errorf("%w; recover --force moves it aside and rebuilds", err)
	}
	return nil, fmt.Errorf("%w at %s and is readable; recover --force moves it aside and rebuilds (acquire already adopts labelled containers' aliases)", ErrExists, path)
}

// moveAside renames the file base of d, which must be the one found
// (want), to base.aside-TIME in the same directory, and returns its new
// path.
func moveAside(d *safefile.Dir, base string, want safefile.Info, now time.Time) (string, error) {
	aside := fmt.Sprintf("%s.aside-%s", base, now.UTC().Format("20060102T150405.000000000Z"))
	if err := d.Rename(base, aside); err != nil {
		return "", fmt.Errorf("move %s aside: %w", filepath.Join(d.Path(), base), err)
	}
	moved := filepath.Join(d.Path(), aside)
	if i, err := d.Lstat(aside); err != nil || !i.SameAs(want) {
		return moved, fmt.Errorf("%s changed while it was moved aside to %s; check both", filepath.Join(d.Path(), base), moved)
	}
	return moved, d.Sync()
}

// checkExisting reports whether the file base in d (found as i) is a
// readable database.
func checkExisting(d *safefile.Dir, base, path string, i safefile.Info, timeout time.Duration) error {
	f, _, err := d.OpenAt(base, os.O_RDONLY, "database")
	if err != nil {
		return err
	}
	err = safefile.CheckFile(f, path, i.Size())
	f.Close()
	if err != nil {
		return err
	}
	return guard(func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout, OpenFile: d.Opener(base, i)})
		if err != nil {
			return boltErr(path, err)
		}
		defer db.Close()
		return db.View(checkSchema)
	})
}

// rebuild picks each slug's lease from its labelled holders.
func rebuild(holders []Holder, pool Pool) ([]Lease, []string) {
	claims := map[netip.Addr]map[string]bool{}
	blocked := map[netip.Addr]bool{} // also held by a container whose label is no slug
	var skipped []string
	for _, h := range holders {
		switch {
		case h.Slug == "":
			continue
		case ValidateSlug(h.Slug) != nil:
			skipped = append(skipped, fmt.Sprintf("%s: container %q is labelled %s=%q, which is not a valid slug; skipped", h.Alias, h.Name, SlugLabel, h.Slug))
			if pool.Contains(h.Alias) {
				blocked[h.Alias] = true // leasing it would be a conflict at once
			}
			continue
		case !pool.Contains(h.Alias):
			if h.Alias.IsValid() && !h.Alias.IsUnspecified() {
				skipped = append(skipped, fmt.Sprintf("%s: container %q of %s publishes outside the pool %s; skipped", h.Alias, h.Name, h.Slug, pool))
			}
			continue
		}
		if claims[h.Alias] == nil {
			claims[h.Alias] = map[string]bool{}
		}
		claims[h.Alias][h.Slug] = true
	}
	best := map[string]netip.Addr{}
	for a, slugs := range claims {
		if blocked[a] {
			skipped = append(skipped, fmt.Sprintf("%s: a container with an invalid label publishes on it too; leased to none", a))
			continue
		}
		if len(slugs) > 1 {
			names := make([]string, 0, len(slugs))
			for s := range slugs {
				names = append(names, s)
			}
			slices.Sort(names)
			skipped = append(skipped, fmt.Sprintf("%s: containers of %d slugs publish on it (%s); leased to none", a, len(names), quoted(names)))
			continue
		}
		for s := range slugs {
			if b, ok := best[s]; !ok || a.Less(b) {
				if ok {
					skipped = append(skipped, fmt.Sprintf("%s: %s also publishes on %s; it keeps the lower", b, s, a))
				}
				best[s] = a
			} else {
				skipped = append(skipped, fmt.Sprintf("%s: %s also publishes on %s; it keeps the lower", a, s, b))
			}
		}
	}
	leases := make([]Lease, 0, len(best))
	for s, a := range best {
		leases = append(leases, Lease{Slug: s, Alias: a})
	}
	slices.SortFunc(leases, byAlias)
	slices.Sort(skipped)
	return leases, skipped
}

// quoted lists names, each quoted, for a message.
func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
