// The firewall half of a confinement: which destinations the sockets of one
// cgroup may reach, written as nftables rules in a table of aliaslease's own.
// The platform parts are in nft_linux.go (rules, netlink) and nft_other.go.

package confine

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// TableName is the name of aliaslease's own nftables table (family inet).
// Nothing outside it is ever changed.
const TableName = "aliaslease"

// ErrInvalidRules is returned by Install for a Rules that cannot be written:
// no cgroup id, level 0 (every process of the host), an invalid alias, an
// allowed port 0, an invalid prefix, or nothing refused at all.
var ErrInvalidRules = errors.New("invalid confinement rules")

// Rules is what the sockets of one cgroup may reach. A packet from a socket
// created in the cgroup (compared at Level, so its descendants count too)
// is judged by its destination as the program asked for it, before any
// address translation:
//
//   - in Allow (address and port, TCP or UDP): passes;
//   - Alias (any port, any protocol): passes;
//   - in Deny: refused, TCP with a reset (ECONNREFUSED), anything else with
//     ICMP port unreachable (a UDP send fails with EPERM);
//   - anything else passes untouched: traffic that leaves the host is not
//     ours to judge.
//
// Replies on connections someone else opened to the cgroup (a server in the
// cgroup answering a client on 127.0.0.1) always pass. When confinements
// are nested, every one that matches a socket must let its packet pass.
type Rules struct {
	// CgroupID is the cgroup v2 id the kernel gives the cgroup: the inode
	// number of its directory on 64-bit hosts.
	CgroupID uint64
	// Level is the cgroup's depth below the root of the cgroup2 hierarchy
	// (1 for /sys/fs/cgroup/X).
	Level uint32
	// Alias is the confinement's own loopback alias.
	Alias netip.Addr
	// Allow holds the extra destinations the cgroup may reach on one port,
	// TCP and UDP: the local nameservers on :53, every --confine-allow.
	Allow []netip.AddrPort
	// Deny holds the destinations refused: LocalTargets, normally.
	Deny []netip.Prefix
}

// Firewall is aliaslease's table in one network namespace. Its methods are
// safe for concurrent use, also from several processes.
type Firewall struct {
	netns int // a network namespace's fd, or -1 for the process's own
}

// HostFirewall returns the Firewall of the calling process's network
// namespace (the host's, for the aliaslease command).
func HostFirewall() *Firewall { return &Firewall{netns: -1} }

// NetNSFirewall returns the Firewall of the network namespace that fd (an
// open /proc/PID/ns/net or /run/netns/NAME) refers to; fd must stay open.
func NetNSFirewall(fd int) *Firewall { return &Firewall{netns: fd} }

// Status is what Firewall.List finds of one confinement in the table.
type Status struct {
	CgroupID uint64
	// Complete says every rule of the confinement is in place, including
	// the jump that sends the cgroup's packets to them; a confinement whose
	// rules were flushed or partly deleted is listed with Complete false.
	Complete bool
}

// validate checks r and returns it with addresses unmapped: an IPv4-mapped
// IPv6 socket address goes out as an IPv4 packet, so only the IPv4 form is
// ever seen by a rule.
func (r Rules) validate() (Rules, error) {
	switch {
	case r.CgroupID == 0:
		return r, fmt.Errorf("%w: cgroup id 0", ErrInvalidRules)
	case r.Level == 0:
		return r, fmt.Errorf("%w: cgroup level 0 is the root: every process of the host", ErrInvalidRules)
	case !r.Alias.IsValid():
		return r, fmt.Errorf("%w: no alias", ErrInvalidRules)
	case len(r.Deny) == 0:
		return r, fmt.Errorf("%w: nothing refused (Deny is empty)", ErrInvalidRules)
	}
	out := Rules{CgroupID: r.CgroupID, Level: r.Level, Alias: r.Alias.Unmap()}
	for _, ap := range r.Allow {
		if !ap.Addr().IsValid() || ap.Port() == 0 {
			return r, fmt.Errorf("%w: allowed destination %v", ErrInvalidRules, ap)
		}
		out.Allow = append(out.Allow, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	for _, p := range r.Deny {
		if !p.IsValid() {
			return r, fmt.Errorf("%w: refused prefix %v", ErrInvalidRules, p)
		}
		out.Deny = append(out.Deny, p.Masked())
	}
	return out, nil
}

// chainName is the chain holding one confinement's rules.
func chainName(id uint64) string { return "cgroup-" + strconv.FormatUint(id, 10) }

// A tag is written as the comment of every rule aliaslease makes, so that
// what is in the kernel can be checked against what was installed without
// keeping anything on the side: "aliaslease cgroup ID jump" for the jump in
// the base chain, "aliaslease cgroup ID rule I/N" for the I-th of the N
// rules in the confinement's chain. nft list shows it.
type tag struct {
	id     uint64
	jump   bool
	index  int // 1-based; 0 for the jump
	ofRule int // N
}

func (t tag) String() string {
	if t.jump {
		return fmt.Sprintf("aliaslease cgroup %d jump", t.id)
	}
	return fmt.Sprintf("aliaslease cgroup %d rule %d/%d", t.id, t.index, t.ofRule)
}

// parseTag reads a comment written by tag.String; ok is false for any
// other comment (a rule someone else put into the table).
func parseTag(s string) (t tag, ok bool) {
	f := strings.Fields(s)
	if len(f) < 4 || f[0] != "aliaslease" || f[1] != "cgroup" || strings.Join(f, " ") != s {
		return tag{}, false
	}
	id, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil || id == 0 || strconv.FormatUint(id, 10) != f[2] {
		return tag{}, false
	}
	t.id = id
	switch {
	case len(f) == 4 && f[3] == "jump":
		t.jump = true
		return t, true
	case len(f) == 5 && f[3] == "rule":
		i, n, found := strings.Cut(f[4], "/")
		if !found {
			return tag{}, false
		}
		t.index, err = strconv.Atoi(i)
		if err != nil || strconv.Itoa(t.index) != i {
			return tag{}, false
		}
		t.ofRule, err = strconv.Atoi(n)
		if err != nil || strconv.Itoa(t.ofRule) != n || t.index < 1 || t.index > t.ofRule {
			return tag{}, false
		}
		return t, true
	}
	return tag{}, false
}

// complete says whether the tags of one chain, in the chain's order, are
// exactly rules 1/N .. N/N.
func complete(tags []tag) bool {
	if len(tags) == 0 {
		return false
	}
	n := tags[0].ofRule
	if len(tags) != n {
		return false
	}
	for i, t := range tags {
		if t.jump || t.ofRule != n || t.index != i+1 {
			return false
		}
	}
	return true
}

// minimalPrefixes returns ps sorted, without duplicates and without any
// prefix that another one of ps already covers.
func minimalPrefixes(ps []netip.Prefix) []netip.Prefix {
	ps = slices.Clone(ps)
	for i := range ps {
		ps[i] = ps[i].Masked()
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	ps = slices.Compact(ps)
	var out []netip.Prefix
	for _, p := range ps {
		covered := false
		for _, q := range out {
			if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}
