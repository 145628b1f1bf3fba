package lease

import (
	"fmt"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
	bolt "go.etcd.io/bbolt"
)

// readExisting reads every lease of the database base in d (found as i)
// for recover's merge, checked as every full read is (the records and the
// alias index agree). An error means the file cannot be merged (damaged):
// recover then rebuilds from the holders alone, as before.
func readExisting(d *safefile.Dir, base, path string, i safefile.Info, timeout time.Duration) ([]Lease, error) {
	var ls []Lease
	err := guard(func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout, OpenFile: d.Opener(base, i)})
		if err != nil {
			return boltErr(path, err)
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			if err := checkSchema(tx); err != nil {
				return err
			}
			if err := checkRecords(tx); err != nil {
				return err
			}
			ls, err = readLeases(tx)
			return err
		})
	})
	return ls, err
}

// merge keeps every lease of old that no rebuilt lease contradicts (its
// slug's labelled containers publish on another alias, or another slug's
// on its alias), pending leases and those of unlabelled bundles included,
// and adds the rebuilt leases of slugs it did not keep. It returns them
// with a line for each old lease that had to go.
func merge(old, rebuilt []Lease) (kept, added []Lease, dropped []string) {
	bySlug := map[string]Lease{}
	byAlias := map[uint32]Lease{}
	for _, r := range rebuilt {
		bySlug[r.Slug], byAlias[addrToU32(r.Alias)] = r, r
	}
	keptSlug := map[string]bool{}
	for _, l := range old {
		if r, ok := bySlug[l.Slug]; ok && r.Alias != l.Alias {
			dropped = append(dropped, fmt.Sprintf("dropped the lease of %s on %s: its labelled containers publish on %s", l.Slug, l.Alias, r.Alias))
			continue
		}
		if r, ok := byAlias[addrToU32(l.Alias)]; ok && r.Slug != l.Slug {
			dropped = append(dropped, fmt.Sprintf("dropped the lease of %s on %s: containers labelled %s publish on it", l.Slug, l.Alias, r.Slug))
			continue
		}
		kept, keptSlug[l.Slug] = append(kept, l), true
	}
	for _, r := range rebuilt {
		if !keptSlug[r.Slug] {
			added = append(added, r)
		}
	}
	return kept, added, dropped
}
