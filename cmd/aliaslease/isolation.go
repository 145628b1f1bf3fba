package main

import (
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/internal/doctor"
	"github.com/aliaslease/aliaslease/lease"
)

// isolationOf is what list and metrics say of a lease's isolation
// (doctor.IsolationOf: confined, or verify's last verdict).
func isolationOf(d lease.Decision) string { return doctor.IsolationOf(d.Lease, liveConfinements(d)) }

// liveConfinements returns the lease's confined trees that live.
func liveConfinements(d lease.Decision) []lease.ProcessHolder { return doctor.LiveConfinements(d) }

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
