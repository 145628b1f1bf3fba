package lease

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
)

// DefaultSharedDir is where "aliaslease share" makes the shared place, the
// directory of claims that keeps several users' databases apart (see
// docs/design.md, *Several users, one host*): under /run, which the
// system empties at boot, on Linux; under /var/run on macOS, whose /run
// does not exist.
var DefaultSharedDir = map[bool]string{true: "/var/run/aliaslease/shared", false: "/run/aliaslease/shared"}[runtime.GOOS == "darwin"]

// MakeShared makes the shared place dir for the group gid, as root (see
// safefile.MakeShared): its parents 0755 where missing, the place root's
// and the group's with mode 3770. made says whether it was made now; a
// place already there is kept only when it is exactly what this makes,
// anything else is ErrUnsafePath and left alone.
func MakeShared(dir string, gid uint32) (made bool, err error) { return safefile.MakeShared(dir, gid) }

// identity names one database in the shared place: its owner and its
// absolute path.
type identity struct {
	uid uint32
	db  string
}

// sharedPlace is the shared place, open and locked for one decision.
type sharedPlace struct {
	dir    *safefile.Dir
	unlock func()
	self   identity
}

// placeAbsent says why openPlace found no place to use: nil when it
// found one, else that none is set up (fs.ErrNotExist) or that this user
// is not in its group (fs.ErrPermission).
func placeAbsent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

// openPlace opens and locks the shared place dir for the database db
// (its path as given), taking the place's lock within timeout. It is nil
// and no error when dir is "" or no place is there to use (none set up,
// or this user not in its group: the health report says so). A place
// that fails safefile's rules is ErrUnsafePath.
func openPlace(ctx context.Context, dir, db string, timeout time.Duration) (*sharedPlace, error) {
	if dir == "" {
		return nil, nil
	}
	abs, err := dbIdentity(db)
	if err != nil {
		return nil, err
	}
	d, _, err := safefile.OpenShared(dir)
	if placeAbsent(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	unlock, err := d.LockPlace(ctx, timeout)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &sharedPlace{dir: d, unlock: unlock, self: identity{uid: uint32(os.Geteuid()), db: abs}}, nil
}

// dbIdentity is the path that names the database db in its claims: its
// directory with every link resolved, so that one database reached by
// two paths (a link of its user's, /var and /private/var on macOS) is
// one database, never another that its own claim keeps from its lease.
// Only compared and looked at, never opened; a directory that does not
// exist yet (no database) keeps its absolute path.
func dbIdentity(db string) (string, error) {
	abs, err := filepath.Abs(db)
	if err != nil {
		return "", err
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs)), nil
	}
	return abs, nil
}

// Close releases the place's lock and closes it; a nil place is a no-op.
func (p *sharedPlace) Close() {
	if p != nil {
		p.unlock()
		p.dir.Close()
	}
}

// read returns every claim in the place. An entry that cannot be taken
// at its word (not a regular file, unreadable, its content naming
// another alias or user than its name and owner do) is returned with
// bad set: it is honoured, never reclaimed, and the health report names
// it. A place that cannot be listed is an error: a claim missed would
// let its alias be handed out twice.
func (p *sharedPlace) read() ([]*claim, error) {
	names, err := p.dir.List("")
	if err != nil {
		return nil, fmt.Errorf("reading the shared place %s: %w", p.dir.Path(), err)
	}
	var out []*claim
	for _, name := range names {
		a, uid, ok := parseClaimName(name)
		if !ok {
			continue
		}
		b, i, err := p.dir.ReadShared(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		c := &claim{Alias: a, name: name, owner: i.UID(), bad: err}
		if err == nil {
			if pc, perr := parseClaim(b); perr != nil {
				c.bad = fmt.Errorf("%s: %w", name, perr)
			} else {
				pc.name, pc.owner = name, i.UID()
				c = &pc
			}
		}
		if c.bad == nil && (c.Alias != a || c.UID != uid || c.UID != c.owner) {
			c.bad = safefile.UnsafeShared("%s is owned by uid %d but claims %s for uid %d: forged", name, c.owner, c.Alias, c.UID)
		}
		if c.bad == nil && uid != c.owner {
			c.bad = safefile.UnsafeShared("%s is owned by uid %d, not by the uid its name gives", name, c.owner)
		}
		c.Alias = a
		out = append(out, c)
	}
	return out, nil
}

// ours says whether c is a claim of this very database.
func (p *sharedPlace) ours(c *claim) bool {
	return c.bad == nil && c.owner == p.self.uid && c.UID == p.self.uid && c.DB == p.self.db
}

// gone says whether the database of c is provably gone: it is of this
// user, so its path can be looked at, and nothing is there. A database
// of another user is never taken for gone (its directory may be closed
// to this one); its claim ends by the vacancy rule.
func (p *sharedPlace) gone(c *claim) bool {
	if c.bad != nil || c.owner != p.self.uid || c.DB == p.self.db {
		return false
	}
	_, err := os.Lstat(c.DB)
	return errors.Is(err, fs.ErrNotExist)
}

// put writes this database's claim of l's alias, with seq and the
// grace of the decision that writes it. The crash
// point after it is where an acquire killed leaves a claim without a
// lease.
func (p *sharedPlace) put(l Lease, seq uint64, held time.Time, grace time.Duration) error {
	c := claim{Alias: l.Alias, UID: p.self.uid, DB: p.self.db, Slug: l.Slug, Generation: l.Generation,
		Seq: seq, Renewed: l.RenewedAt, Held: held, Grace: grace}
	if err := p.dir.WriteShared(claimName(l.Alias, p.self.uid), encodeClaim(c)); err != nil {
		return fmt.Errorf("claiming %s in the shared place %s: %w", l.Alias, p.dir.Path(), err)
	}
	crashPoint("after-claim")
	return nil
}

// drop removes the claim entry c, one of this user's.
func (p *sharedPlace) drop(c *claim) error { return p.dir.Remove(c.name) }

// path is the place's path, for messages.
func (p *sharedPlace) path() string { return filepath.Join(p.dir.Path()) }

// uidString is uid as an owner label's value gives it.
func uidString(uid uint32) string { return strconv.FormatUint(uint64(uid), 10) }

// OwnerLabel is the container label that names the user whose database
// leases a bundle's alias (a uid, in decimal): "run" gives it to its
// command as ALIASLEASE_OWNER. A labelled container of another user is
// never adopted.
const OwnerLabel = "aliaslease.owner"

// onAlias groups claims by alias.
func onAlias(cs []*claim) map[netip.Addr][]*claim {
	m := make(map[netip.Addr][]*claim, len(cs))
	for _, c := range cs {
		m[c.Alias] = append(m[c.Alias], c)
	}
	return m
}

// place opens and locks the store's shared place, nil when there is none.
// The store's lock is held: the database first, then the place, always
// in that order, so that no two decisions wait for each other.
func (s *store) place() (*sharedPlace, error) {
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return openPlace(ctx, s.shared, s.path, s.timeout)
}

// ownersOnly leaves out the holders labelled for another user (OwnerLabel
// naming another uid): they are never adopted.
func ownersOnly(hs []Holder) []Holder {
	me := uidString(uint32(os.Geteuid()))
	out := hs[:0:0]
	for _, h := range hs {
		if h.Owner == "" || h.Owner == me {
			out = append(out, h)
		}
	}
	return out
}

// unclaimGeneration removes this database's claim of slug's lease of
// generation gen, one just released (after the commit: a release killed
// before it leaves a claim without a lease, which the next decision
// removes, never a lease without a claim).
func (s *store) unclaimGeneration(slug string, gen uint64) error {
	p, err := s.place()
	if err != nil || p == nil {
		return err
	}
	defer p.Close()
	return p.unclaim(slug, gen)
}

// afterCommit warns of err, a claim that could not be removed after the
// commit: the command did what it said, and the claim left behind holds
// its alias only until a later decision removes it (see dropOrphans). An
// error then would tell of a change that was made as of none.
func (s *store) afterCommit(err error) {
	if err != nil && s.warn != nil {
		s.warn(fmt.Errorf("done, but a claim was left in the shared place: %w; the next acquire or gc removes it", err))
	}
}

// unclaim removes this database's claim of slug's lease of generation
// gen from the open place p; a nil place is a no-op.
func (p *sharedPlace) unclaim(slug string, gen uint64) error {
	if p == nil {
		return nil
	}
	cs, err := p.read()
	if err != nil {
		return err
	}
	for _, c := range cs {
		if p.ours(c) && c.Slug == slug && c.Generation == gen {
			return p.drop(c)
		}
	}
	return nil
}

// heldHere says whether this database sees l held: by a live process tree
// of its run, or by a holder labelled for its slug and not for another
// owner. Such a lease is never given up to a later claim on its alias
// (one a member may write by hand, whatever its sequence): its bottle is
// there, and giving the lease up would only free the alias under it. The
// health report names the two claims.
func (s *store) heldHere(l Lease, idx *holderIndex) bool {
	if len(s.liveProcesses(l)) > 0 {
		return true
	}
	for _, h := range ownersOnly(idx.on(l.Alias)) {
		if h.Slug == l.Slug {
			return true
		}
	}
	return false
}
