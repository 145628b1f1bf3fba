package main

import (
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// isolationOf is what list and metrics say of a lease's isolation: verify's
// last verdict (lease.Isolation.Status), or "confined" while a live tree of
// the lease is confined, unless verify found it leaky or cut-off since the
// confinement began (a finding to act on, not to hide).
func isolationOf(d lease.Decision) string {
	cs := liveConfinements(d)
	if len(cs) == 0 {
		return d.Lease.Isolation.Status()
	}
	if v := d.Lease.Isolation; v.Verdict != "" && v.Verdict != lease.VerdictIsolated {
		for _, c := range cs {
			if v.At.After(c.Confined.Since) {
				return v.Status()
			}
		}
	}
	return "confined"
}

// liveConfinements returns the confined process holders of d's lease
// whose tree lives (is among d's holders): a record whose tree has gone
// confines nothing.
func liveConfinements(d lease.Decision) []lease.ProcessHolder {
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

// confinementObject is one confinement as list --json and inspect write
// it: its cgroup, what it allows (allowsOf), since when.
type confinementObject struct {
	Cgroup   string    `json:"cgroup"`
	CgroupID uint64    `json:"cgroup_id"`
	Allows   []string  `json:"allows"`
	Since    time.Time `json:"since"`
}

func confinementObjects(cs []lease.ProcessHolder) []confinementObject {
	var out []confinementObject
	for _, p := range cs {
		out = append(out, confinementObject{Cgroup: p.Cgroup, CgroupID: p.Confined.CgroupID,
			Allows: allowsOf(*p.Confined), Since: p.Confined.Since.UTC()})
	}
	return out
}

// allowsText is what the confinements of a row allow, as its Allows field
// and the table's holder names say it: "ALIAS,ADDR:PORT,...", one
// confinement's after another's with ";", "" for none.
func allowsText(cs []lease.ProcessHolder) string {
	parts := make([]string, len(cs))
	for i, p := range cs {
		parts[i] = strings.Join(allowsOf(*p.Confined), ",")
	}
	return strings.Join(parts, ";")
}

// namedConfined returns hs with the name of each confined tree saying
// what it allows besides the alias ("confined cgroup X allowing
// 127.0.0.53:53"); hs itself when nothing is confined.
func namedConfined(hs []lease.Holder, cs []lease.ProcessHolder) []lease.Holder {
	if len(cs) == 0 {
		return hs
	}
	out := append([]lease.Holder(nil), hs...)
	for _, p := range cs {
		if len(p.Confined.Allow) == 0 {
			continue
		}
		extra := allowsOf(*p.Confined)[1:]
		for i := range out {
			if out[i].Kind == lease.HolderProcess && out[i].ID == "run:"+p.RunID {
				out[i].Name += " allowing " + strings.Join(extra, ",")
			}
		}
	}
	return out
}
