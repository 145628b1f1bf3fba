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
	"time"

	bolt "go.etcd.io/bbolt"
)

// RecoverResult is what Recover did.
type RecoverResult struct {
	Leases  []Lease  // rebuilt, sorted by alias
	Skipped []string // why some labelled containers gave no lease
	MovedTo string   // where the existing database was moved, if it was
}

// Recover rebuilds a lost or damaged database from the holders Docker
// reported: each slug whose labelled containers publish on pool aliases
// gets a lease on the lowest of them; an alias that containers of two
// slugs publish on is given to neither. It writes a new database only
// where none exists: an existing one is ErrExists (readable) or ErrCorrupt
// (damaged) unless force, which moves it aside, never deleting it. The new
// database's generations start above any the old one can have handed out
// (at the current time in microseconds), so a late release naming an old
// generation cannot match a rebuilt lease.
func Recover(path string, opts *Options, holders []Holder, pool Pool, now time.Time, force bool) (RecoverResult, error) {
	o := opts.withDefaults()
	var res RecoverResult
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		return res, err
	}
	lk, err := lockFile(context.Background(), path+".lock", o.LockTimeout, false, "recover")
	if err != nil {
		return res, err
	}
	defer lk.Close()
	defer lk.Unlock()

	if _, err := os.Lstat(path); err == nil {
		if !force {
			if err := checkExisting(path, o.LockTimeout); err != nil {
				return res, fmt.Errorf("%w; recover --force moves it aside and rebuilds", err)
			}
			return res, fmt.Errorf("%w at %s and is readable; recover --force moves it aside and rebuilds (acquire already adopts labelled containers' aliases)", ErrExists, path)
		}
		res.MovedTo = fmt.Sprintf("%s.aside-%s", path, now.UTC().Format("20060102T150405.000000000Z"))
		if err := os.Rename(path, res.MovedTo); err != nil {
			return res, fmt.Errorf("move %s aside: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}

	var leases []Lease
	leases, res.Skipped = rebuild(holders, pool)
	if err := create(path); err != nil {
		return res, err
	}
	s := &Store{path: path, command: "recover"}
	err = guard(func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.LockTimeout, PageSize: pageSize})
		if err != nil {
			return err
		}
		s.db = db
		defer db.Close()
		return db.Update(func(tx *bolt.Tx) error {
			gen := uint64(now.UnixMicro())
			for i := range leases {
				gen++
				l := &leases[i]
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
	})
	res.Leases = leases
	return res, boltErr(path, err)
}

// checkExisting reports whether the file at path is a readable database.
func checkExisting(path string, timeout time.Duration) error {
	if err := checkFile(path); err != nil {
		return err
	}
	return guard(func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
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
	for _, h := range holders {
		if h.Slug == "" || !pool.Contains(h.Alias) || ValidateSlug(h.Slug) != nil {
			continue
		}
		if claims[h.Alias] == nil {
			claims[h.Alias] = map[string]bool{}
		}
		claims[h.Alias][h.Slug] = true
	}
	var skipped []string
	best := map[string]netip.Addr{}
	for a, slugs := range claims {
		if len(slugs) > 1 {
			names := make([]string, 0, len(slugs))
			for s := range slugs {
				names = append(names, s)
			}
			slices.Sort(names)
			skipped = append(skipped, fmt.Sprintf("%s: containers of %d slugs publish on it (%v); leased to none", a, len(names), names))
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
