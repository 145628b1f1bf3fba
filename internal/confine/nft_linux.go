//go:build linux

// nftables rules for confinements, written over netlink (github.com/google/
// nftables): the nft command line cannot be used, since it resolves a
// cgroup by path under /sys/fs/cgroup, which is not the cgroup2 mount on
// hybrid hosts. The kernel compares the socket's cgroup id at a level; we
// give it the id itself.
//
// The table, family inet:
//
//	table inet aliaslease {
//		chain output {
//			type filter hook output priority mangle; policy accept;
//			socket cgroupv2 level L == ID jump cgroup-ID   # one per confinement
//		}
//		chain cgroup-ID { ... }                           # see chainRules
//	}
//
// One chain per confinement, so installing or removing one is a single
// transaction that touches only its own rules and its jump.

package confine

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

const baseChainName = "output"

// outputPriority places the base chain after conntrack (-200: the reply
// exemption needs its entry) and before nat (-100): the rules must judge
// the destination the program connected to, and Docker without its
// userland proxy rewrites loopback destinations with a DNAT in nat OUTPUT;
// judged after it, 127.0.0.18:8080 would look like whatever it is
// translated to. A variable only so a test can show what a hook after nat
// lets through.
var outputPriority = *nftables.ChainPriorityMangle

// lockPath serialises aliaslease's own read-modify-write of the table, so
// that one process's Remove of the last confinement (which deletes the
// table) cannot delete another's Install made in between.
const lockPath = "/run/aliaslease-nftables.lock"

// beforeFlush, when a test sets it, is called with each Install's
// transaction before it is sent (to make one that fails to load).
var beforeFlush func(c *nftables.Conn, t *nftables.Table)

var ourTable = &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}

func (f *Firewall) conn(opts ...nftables.ConnOption) (*nftables.Conn, error) {
	if f.netns >= 0 {
		opts = append(opts, nftables.WithNetNSFd(f.netns))
	}
	return nftables.New(opts...)
}

// Install writes r's confinement in one nftables transaction: the table and
// base chain if missing, the confinement's chain and its jump. A
// confinement already there for r.CgroupID (complete or not) is replaced
// in the same transaction. When the transaction fails to load, nothing of
// it is in the kernel. Errors from the kernel keep their errno
// (errors.Is(err, os.ErrPermission) when not root).
func (f *Firewall) Install(r Rules) error {
	r, err := r.validate()
	if err != nil {
		return err
	}
	c, unlock, err := f.lockedConn()
	if err != nil {
		return err
	}
	defer unlock()
	rs, err := readRuleset(c)
	if err != nil {
		return err
	}
	c.AddTable(ourTable)
	base := c.AddChain(baseChain())
	ch := &nftables.Chain{Name: chainName(r.CgroupID), Table: ourTable}
	if old := rs.byID[r.CgroupID]; old != nil {
		if err := deleteAll(c, old.jumps); err != nil {
			return err
		}
		if old.chain {
			c.FlushChain(ch)
		}
	}
	c.AddChain(ch)
	rules := chainRules(r)
	for i, exprs := range rules {
		t := tag{id: r.CgroupID, index: i + 1, ofRule: len(rules)}
		c.AddRule(&nftables.Rule{Table: ourTable, Chain: ch, Exprs: exprs, UserData: comment(t)})
	}
	c.AddRule(&nftables.Rule{Table: ourTable, Chain: base, Exprs: jumpRule(r),
		UserData: comment(tag{id: r.CgroupID, jump: true})})
	if beforeFlush != nil {
		beforeFlush(c, ourTable)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: install the rules of cgroup %d: %w", r.CgroupID, err)
	}
	return nil
}

// Remove deletes the confinement of cgroup id in one transaction, and the
// table with it when no other confinement is left. Removing what is not
// there is not an error.
func (f *Firewall) Remove(id uint64) error {
	c, unlock, err := f.lockedConn()
	if err != nil {
		return err
	}
	defer unlock()
	rs, err := readRuleset(c)
	if err != nil || !rs.table {
		return err
	}
	others := false
	for other := range rs.byID {
		others = others || other != id
	}
	switch in := rs.byID[id]; {
	case !others:
		c.DelTable(ourTable)
	case in == nil:
		return nil
	default:
		if err := deleteAll(c, in.jumps); err != nil {
			return err
		}
		if in.chain {
			ch := &nftables.Chain{Name: chainName(id), Table: ourTable}
			c.FlushChain(ch)
			c.DelChain(ch)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: remove the rules of cgroup %d: %w", id, err)
	}
	return nil
}

// Present says whether the confinement of cgroup id is in the kernel and
// complete (see Status.Complete).
func (f *Firewall) Present(id uint64) (bool, error) {
	c, err := f.conn()
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	rs, err := readRuleset(c)
	if err != nil {
		return false, err
	}
	return rs.complete(id), nil
}

// List returns every confinement found in the table, by cgroup id.
func (f *Firewall) List() ([]Status, error) {
	c, err := f.conn()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	rs, err := readRuleset(c)
	if err != nil {
		return nil, err
	}
	var out []Status
	for id := range rs.byID {
		out = append(out, Status{CgroupID: id, Complete: rs.complete(id)})
	}
	slices.SortFunc(out, func(a, b Status) int { return cmpUint(a.CgroupID, b.CgroupID) })
	return out, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f *Firewall) lockedConn() (*nftables.Conn, func(), error) {
	fd, err := unix.Open(lockPath, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("nftables: lock %s: %w", lockPath, err)
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("nftables: lock %s: %w", lockPath, err)
	}
	c, err := f.conn()
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("nftables: %w", err)
	}
	return c, func() { unix.Close(fd) }, nil
}

func baseChain() *nftables.Chain {
	prio := outputPriority
	return &nftables.Chain{
		Name:     baseChainName,
		Table:    ourTable,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookOutput,
		Priority: &prio,
	}
}

func deleteAll(c *nftables.Conn, rules []*nftables.Rule) error {
	for _, r := range rules {
		if err := c.DelRule(r); err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
	}
	return nil
}

// installed is what one confinement has in the kernel.
type installed struct {
	jumps []*nftables.Rule // its jumps in the base chain
	chain bool             // its chain exists
	rules []tag            // the tags of its chain's rules, in order; zero for a rule not ours
}

// ruleset is what aliaslease's table holds.
type ruleset struct {
	table bool // the table exists
	base  bool // its base chain exists, hooked as baseChain makes it
	byID  map[uint64]*installed
}

func (rs *ruleset) complete(id uint64) bool {
	in := rs.byID[id]
	return rs.base && in != nil && len(in.jumps) == 1 && in.chain && complete(in.rules)
}

func (rs *ruleset) of(id uint64) *installed {
	if rs.byID[id] == nil {
		rs.byID[id] = &installed{}
	}
	return rs.byID[id]
}

// readRuleset reads aliaslease's table: which confinements have which of
// their parts.
func readRuleset(c *nftables.Conn) (*ruleset, error) {
	rs := &ruleset{byID: map[uint64]*installed{}}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("nftables: list tables: %w", err)
	}
	rs.table = slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == TableName })
	if !rs.table {
		return rs, nil
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("nftables: list chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != TableName {
			continue
		}
		if err := rs.readChain(c, ch); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

func (rs *ruleset) readChain(c *nftables.Conn, ch *nftables.Chain) error {
	id, ours := strings.CutPrefix(ch.Name, "cgroup-")
	if ch.Name != baseChainName && !ours {
		return nil
	}
	rules, err := c.GetRules(ourTable, ch)
	if err != nil {
		return fmt.Errorf("nftables: list the rules of chain %s: %w", ch.Name, err)
	}
	if ch.Name == baseChainName {
		rs.base = ch.Hooknum != nil && *ch.Hooknum == *nftables.ChainHookOutput &&
			ch.Priority != nil && *ch.Priority == outputPriority && ch.Type == nftables.ChainTypeFilter
		for _, r := range rules {
			if t, ok := ruleTag(r); ok && t.jump {
				r.Table, r.Chain = ourTable, ch
				rs.of(t.id).jumps = append(rs.of(t.id).jumps, r)
			}
		}
		return nil
	}
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || chainName(n) != ch.Name {
		return nil
	}
	in := rs.of(n)
	in.chain = true
	for _, r := range rules {
		t, _ := ruleTag(r)
		in.rules = append(in.rules, t)
	}
	return nil
}

func ruleTag(r *nftables.Rule) (tag, bool) {
	s, ok := commentOf(r.UserData)
	if !ok {
		return tag{}, false
	}
	return parseTag(s)
}

// comment encodes s as a rule comment, the way nft writes one (a TLV of
// type 0 holding the NUL-terminated text).
func comment(t tag) []byte {
	s := t.String()
	return append([]byte{0, byte(len(s) + 1)}, append([]byte(s), 0)...)
}

// commentOf reads the comment from a rule's user data. Unlike the
// library's reader it never reads past the end of malformed data: the user
// data of a rule someone else put into our table is not ours to trust.
func commentOf(udata []byte) (string, bool) {
	for len(udata) >= 2 {
		typ, n := udata[0], int(udata[1])
		if len(udata) < 2+n {
			return "", false
		}
		if typ == 0 {
			s := udata[2 : 2+n]
			if len(s) == 0 || s[len(s)-1] != 0 {
				return "", false
			}
			return string(s[:len(s)-1]), true
		}
		udata = udata[2+n:]
	}
	return "", false
}
