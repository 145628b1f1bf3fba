package lease

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
)

// SharedState says what the shared place is to this user.
type SharedState string

// States of the shared place.
const (
	SharedNone      SharedState = "none"       // not set up (or Manager.Shared is ""): other users' databases are not seen
	SharedNotMember SharedState = "not-member" // set up, but this user is not in its group: not seen either
	SharedOK        SharedState = "ok"         // in use: every lease claims its alias there
	SharedUnsafe    SharedState = "unsafe"     // refused (ErrUnsafePath): acquire fails until it is fixed
)

// SharedStatus is what the health report says of the shared place.
type SharedStatus struct {
	Path   string
	State  SharedState
	Err    error // why it is refused, for SharedUnsafe
	Group  uint32
	Claims int // entries in it
	Others int // claims of other databases
	// Problems are the findings that concern this database or an entry
	// that cannot be taken at its word (forged, not a regular file), each
	// naming the entry.
	Problems []string
}

// SharedReview examines the shared place, under the database's shared
// lock and then the place's own, and changes nothing.
func (m *Manager) SharedReview(ctx context.Context) (SharedStatus, error) {
	st := SharedStatus{Path: m.Shared, State: SharedNone}
	if m.Shared == "" {
		return st, nil
	}
	_, info, err := safefile.OpenShared(m.Shared)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, nil
	case errors.Is(err, fs.ErrPermission):
		st.State = SharedNotMember
		return st, nil
	case err != nil:
		st.State, st.Err = SharedUnsafe, err
		return st, nil
	}
	st.State, st.Group = SharedOK, info.GID()
	var leases []Lease
	if _, err := m.openIfExists(ctx, true, func(s *store) (err error) {
		leases, err = s.Leases()
		return err
	}); err != nil {
		return st, err
	}
	p, err := openPlace(ctx, m.Shared, m.Path, m.lockTimeout())
	if err != nil || p == nil {
		return st, err
	}
	defer p.Close()
	return st, st.review(p, leases)
}

// review fills in the counts and the findings.
func (st *SharedStatus) review(p *sharedPlace, leases []Lease) error {
	all, err := p.read()
	if err != nil {
		return err
	}
	cs := &claimSet{p: p, on: onAlias(all)}
	for _, cl := range cs.on {
		for _, c := range cl {
			st.Claims++
			if c.bad != nil {
				st.Problems = append(st.Problems, c.bad.Error())
			} else if cs.foreign(c) {
				st.Others++
			}
		}
	}
	for _, l := range leases {
		mine := cs.mine(l)
		if mine == nil {
			st.Problems = append(st.Problems, fmt.Sprintf("lease %s on %s has no claim in the shared place (made before it, or its claim was removed); gc claims it again unless another database does", l.Slug, l.Alias))
		}
		for _, c := range cs.on[l.Alias] {
			if c != mine && c.bad == nil && cs.foreign(c) {
				st.Problems = append(st.Problems, fmt.Sprintf("alias %s of lease %s is also claimed by uid %d's database %q (slug %s, claim %s)", l.Alias, l.Slug, c.UID, c.DB, c.Slug, c.name))
			}
		}
	}
	return nil
}

func (m *Manager) lockTimeout() time.Duration {
	return (&storeOptions{LockTimeout: m.LockTimeout}).withDefaults().LockTimeout
}

// SharedLeftovers removes, unless dryRun, the shared place's claims of
// databases that are gone (no file at their path; this user's claims,
// or every user's when run as root), claims written aside by a write
// killed half way, and as root the entries that are not regular files
// (nothing aliaslease makes); it returns their paths. An entry that
// cannot be removed (a planted directory that is not empty) is an error
// that does not stop the others' removal.
// Nothing outside the place is touched: entries are removed, never
// followed.
func (m *Manager) SharedLeftovers(ctx context.Context, dryRun bool) ([]string, error) {
	p, err := openPlace(ctx, m.Shared, m.Path, m.lockTimeout())
	if err != nil || p == nil {
		return nil, err
	}
	defer p.Close()
	root := os.Geteuid() == 0
	var out []string
	var errs []error
	all, err := p.read()
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		mine := c.owner == p.self.uid || root
		switch {
		case root && errors.Is(c.bad, safefile.ErrNotRegular):
		case c.bad != nil || !mine:
			continue
		default:
			if _, err := os.Lstat(c.DB); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		if !dryRun {
			if err := p.drop(c); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		out = append(out, filepath.Join(p.path(), c.name))
	}
	out, err = p.asideLeftovers(out, root, dryRun)
	return out, errors.Join(append(errs, err)...)
}

// asideLeftovers adds to out, and removes unless dryRun, the files of
// this user's (every user's, as root) claims written aside and never
// renamed into place: a write killed half way.
func (p *sharedPlace) asideLeftovers(out []string, root, dryRun bool) ([]string, error) {
	for _, name := range p.dir.Names(".") {
		i, err := p.dir.Lstat(name)
		if err != nil || !strings.Contains(name, ".creating-") || (i.UID() != p.self.uid && !root) {
			continue
		}
		if !dryRun {
			if err := p.dir.Remove(name); err != nil {
				return out, err
			}
		}
		out = append(out, filepath.Join(p.path(), name))
	}
	return out, nil
}
