package doctor

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
)

// Firewall is what the report reads of the confinements in force: the
// CLI gives it (over internal/confine), as it gives Trees, so that the
// doctor imports no isolation code.
type Firewall interface {
	// Confinements returns every confinement found in the firewall.
	Confinements() ([]Rules, error)
	// Exposed names the host's sockets bound on every address (0.0.0.0,
	// ::), each with its process where known ("tcp 0.0.0.0:5432
	// (postgres)"): a confined tree reaches them through its own alias.
	Exposed(ctx context.Context) ([]string, error)
}

// Rules is one confinement found in the firewall.
type Rules struct {
	CgroupID uint64
	// Complete says every rule of it is in place.
	Complete bool
	// Live says its cgroup exists and a process is in it.
	Live bool
}

// LiveConfinements returns the confined process holders of d's lease
// whose tree lives (is among d's holders): a record whose tree has gone
// confines nothing.
func LiveConfinements(d lease.Decision) []lease.ProcessHolder {
	var out []lease.ProcessHolder
	for _, p := range d.Lease.Processes {
		if p.Confined == nil {
			continue
		}
		for _, h := range d.Holders {
			if h.Kind == lease.HolderProcess && h.ID == "run:"+p.RunID {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// IsolationOf is what list, metrics and the report say of a lease's
// isolation, cs being its live confined trees: verify's last verdict
// (lease.Isolation.Status), or "confined" while a tree of the lease lives
// confined, unless verify found it leaky or cut-off since the confinement
// began (a finding to act on, not to hide).
func IsolationOf(l lease.Lease, cs []lease.ProcessHolder) string {
	if len(cs) == 0 {
		return l.Isolation.Status()
	}
	if v := l.Isolation; v.Verdict != "" && v.Verdict != lease.VerdictIsolated {
		for _, c := range cs {
			if v.At.After(c.Confined.Since) {
				return v.Status()
			}
		}
	}
	return "confined"
}

// liveConfined returns, by slug, the confined trees of each lease that
// live, as the Manager's Trees tell (the decisions have no holders when
// Docker was not asked); every recorded one without Trees.
func liveConfined(cfg Config, decisions []lease.Decision) map[string][]lease.ProcessHolder {
	out := map[string][]lease.ProcessHolder{}
	for _, d := range decisions {
		for _, p := range d.Lease.Processes {
			if p.Confined == nil {
				continue
			}
			if t := cfg.Manager.Trees; t != nil {
				if alive, err := t.Alive(p); !alive && err == nil {
					continue
				}
			}
			out[d.Lease.Slug] = append(out[d.Lease.Slug], p)
		}
	}
	return out
}

// confinements names each live confined tree whose rules are missing or
// incomplete (a problem: that tree reaches every address of the host),
// and warns of a confinement in force that no lease of this database
// records: another allocator confines bottles on this host, and may hand
// out this pool's aliases too.
func (r *Report) confinements(ctx context.Context, cfg Config, decisions []lease.Decision, byslug map[string][]lease.ProcessHolder) {
	if cfg.Firewall == nil {
		return
	}
	recorded := map[uint64]bool{}
	var live []lease.ProcessHolder
	for _, d := range decisions {
		for _, p := range d.Lease.Processes {
			if p.Confined != nil {
				recorded[p.Confined.CgroupID] = true
			}
		}
		live = append(live, byslug[d.Lease.Slug]...)
	}
	if len(live) > 0 {
		r.exposed(ctx, cfg, len(live))
	}
	rules, err := cfg.Firewall.Confinements()
	if err != nil {
		if len(live) > 0 {
			r.Warnings = append(r.Warnings, Problem{Kind: "confinement",
				Detail: fmt.Sprintf("cannot read the firewall (%v): whether the rules of %d confined tree(s) are in place is not checked", err, len(live)),
				Hint:   "run aliaslease doctor as root"})
		}
		return
	}
	complete := map[uint64]bool{}
	var unrecorded []string
	for _, rl := range rules {
		complete[rl.CgroupID] = rl.Complete
		if rl.Live && !recorded[rl.CgroupID] {
			unrecorded = append(unrecorded, strconv.FormatUint(rl.CgroupID, 10))
		}
	}
	for _, p := range live {
		if !complete[p.Confined.CgroupID] {
			r.problem("confinement", "aliaslease gc restores them (run it from cron); a firewall reload that flushes the whole ruleset (nft -f /etc/nftables.conf, firewalld) removes them",
				"%s on %s: the rules of its %s are missing from the firewall: that tree can reach every address of the host", p.Slug, p.Confined.Alias, p)
		}
	}
	if len(unrecorded) > 0 {
		r.Warnings = append(r.Warnings, Problem{Kind: "allocator",
			Detail: fmt.Sprintf("the firewall confines live cgroup(s) %s that no lease of this database records: another allocator (root's launcher, or a user's database) confines bottles on this host, and may hand out this pool's aliases too", strings.Join(unrecorded, ", ")),
			Hint:   "use one allocator for a pool on a host (root's launcher or the users', not both), or keep the databases apart with a shared place (aliaslease share); see docs/isolation.md"})
	}
}

// exposed warns, when trees are confined, of the host's services bound on
// every address: the rules let a confined tree reach its own alias on any
// port, and such a service answers there too.
func (r *Report) exposed(ctx context.Context, cfg Config, confined int) {
	socks, err := cfg.Firewall.Exposed(ctx)
	if err != nil || len(socks) == 0 {
		return
	}
	r.Warnings = append(r.Warnings, Problem{Kind: "confinement",
		Detail: fmt.Sprintf("%d confined tree(s) reach, through their own alias, every host service bound on all addresses: %s", confined, strings.Join(socks, ", ")),
		Hint:   "bind such a service to 127.0.0.1 or another address of its own, not 0.0.0.0 or ::, if confined bottles must not reach it"})
}
