package lease

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// claim is one database's claim of an alias in the shared place: which
// database (its owner's uid and its absolute path) leases the alias to
// which slug, in which generation, when the lease was last renewed and
// last seen held by its database, and its sequence on the alias (a
// claim that takes over a stale one is one higher, so the later claim
// wins whatever the clocks say). Grace is its database's grace period:
// another database judges the claim with the longer of its own and this
// one, so that one user's --grace 0s never makes another user's lease
// stale at once (a lease held by a run's process tree is seen by no
// other user).
type claim struct {
	Alias      netip.Addr
	UID        uint32
	DB         string
	Slug       string
	Generation uint64
	Seq        uint64
	Renewed    time.Time
	Held       time.Time
	Grace      time.Duration

	name  string // the entry's name in the shared place
	owner uint32 // the entry's owner, from the file system, not from it
	bad   error  // why the entry cannot be taken at its word, nil when it can
}

// wanted is when the claim's database last wanted the alias: renewed, or
// seen held.
func (c *claim) wanted() time.Time {
	if c.Held.After(c.Renewed) {
		return c.Held
	}
	return c.Renewed
}

// claimHeader opens every claim record.
const claimHeader = "aliaslease-claim 1"

// errBadClaim is the error of a claim record that cannot be read.
var errBadClaim = errors.New("unreadable claim")

// claimName is the entry of uid's claim on alias: one per alias and user,
// so that in the sticky shared place no user's entry stands in another's
// way, and "ALIAS@UID" tells whose it is before it is read.
func claimName(a netip.Addr, uid uint32) string {
	return a.String() + "@" + strconv.FormatUint(uint64(uid), 10)
}

// parseClaimName reads an entry's name; ok is false for any other name
// (the files written aside start with a dot and are not claims).
func parseClaimName(name string) (a netip.Addr, uid uint32, ok bool) {
	addr, u, found := strings.Cut(name, "@")
	if !found {
		return a, 0, false
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() || a.String() != addr {
		return netip.Addr{}, 0, false
	}
	n, err := strconv.ParseUint(u, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != u {
		return netip.Addr{}, 0, false
	}
	return a, uint32(n), true
}

// encodeClaim writes a claim record: its header, then one "key value"
// line per field; the path is quoted, so no byte of it can end a line.
func encodeClaim(c claim) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nalias %s\nuid %d\ndb %s\nslug %s\ngeneration %d\nseq %d\nrenewed %d\nheld %d\ngrace %d\n",
		claimHeader, c.Alias, c.UID, strconv.Quote(c.DB), c.Slug, c.Generation, c.Seq, unixNano(c.Renewed), unixNano(c.Held), max(c.Grace, 0))
	return b.Bytes()
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// parseClaim reads a claim record. Keys it does not know are a newer
// binary's, and skipped; every field it knows must be there and valid,
// but grace, which the first binaries did not write: without it the
// claim's grace is DefaultGrace.
func parseClaim(b []byte) (claim, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || sc.Text() != claimHeader {
		return claim{}, fmt.Errorf("%w: no %q header", errBadClaim, claimHeader)
	}
	fields := map[string]string{}
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return claim{}, fmt.Errorf("%w: line %q", errBadClaim, sc.Text())
		}
		if _, dup := fields[k]; dup {
			return claim{}, fmt.Errorf("%w: %s given twice", errBadClaim, k)
		}
		fields[k] = v
	}
	return claimFields(fields)
}

// claimFields makes a claim of a record's fields.
func claimFields(f map[string]string) (claim, error) {
	var c claim
	var errs []error
	num := func(k string, bits int) uint64 {
		n, err := strconv.ParseUint(f[k], 10, bits)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q", k, f[k]))
		}
		return n
	}
	c.UID = uint32(num("uid", 32))
	c.Generation, c.Seq = num("generation", 64), num("seq", 64)
	c.Renewed, c.Held = fromUnixNano(int64(num("renewed", 63))), fromUnixNano(int64(num("held", 63)))
	c.Grace = DefaultGrace
	if _, ok := f["grace"]; ok {
		c.Grace = time.Duration(num("grace", 63))
	}
	a, err := netip.ParseAddr(f["alias"])
	if err != nil || !a.Is4() {
		errs = append(errs, fmt.Errorf("alias %q", f["alias"]))
	}
	c.Alias = a
	if c.DB, err = strconv.Unquote(f["db"]); err != nil || !strings.HasPrefix(c.DB, "/") {
		errs = append(errs, fmt.Errorf("db %q", f["db"]))
	}
	c.Slug = f["slug"]
	if ValidateSlug(c.Slug) != nil {
		errs = append(errs, fmt.Errorf("slug %q", c.Slug))
	}
	if len(errs) > 0 {
		return claim{}, fmt.Errorf("%w: %w", errBadClaim, errors.Join(errs...))
	}
	return c, nil
}
