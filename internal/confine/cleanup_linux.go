package confine

import (
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Cleaned is what Cleanup removed, or in a dry run would remove.
type Cleaned struct {
	Groups  []string // empty cgroups of aliaslease's subtree, by name
	Rules   []uint64 // confinements (firewall rules) by cgroup id
	Subtree string   // the subtree itself, when no group was left in it
}

// Cleanup removes, unless dryRun, what aliaslease made outside its
// database that nothing uses any more: the empty cgroups of its subtree at
// least minAge old (a run's cgroup is empty from New until its command
// starts: the age keeps it), and the confinements whose cgroup is gone or
// empty. A populated cgroup and its rules are never touched. It judges a
// confinement by the cgroups of aliaslease's subtree, and one whose cgroup
// is not there by its id wherever it is (cgroupState): such a cgroup is
// someone else's (confine --cgroup), and keeps its rules, as its holder
// keeps its lease, as long as it exists. The errors say which part could not be done
// (no cgroup v2, not root for the firewall); the rest is done anyway.
func Cleanup(dryRun bool, minAge time.Duration) (Cleaned, []error) {
	var out Cleaned
	var errs []error
	root, err := Find()
	if err != nil {
		return out, []error{err}
	}
	list, err := root.List()
	if err != nil {
		return out, []error{err}
	}
	populated := map[uint64]bool{}
	for _, e := range list {
		if g, err := root.Open(e.Name); err == nil {
			populated[g.ID()] = e.Populated
			g.Close()
		}
	}
	if dryRun {
		out.Groups = emptyGroups(root, list, minAge)
	} else if out.Groups, err = root.Prune(minAge); err != nil {
		errs = append(errs, err)
	}
	if len(out.Groups) == len(list) && (dryRun || os.Remove(root.Dir) == nil) {
		out.Subtree = root.Dir // nothing of aliaslease is left in it (rmdir refuses otherwise)
	}
	fw := HostFirewall()
	confs, err := fw.List()
	if err != nil {
		return out, append(errs, err)
	}
	for _, c := range confs {
		keep, ours := populated[c.CgroupID]
		if !ours { // someone else's cgroup (confine --cgroup) keeps its rules while it exists
			keep, _, err = cgroupState(root.Mount, c.CgroupID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if keep {
			continue
		}
		if !dryRun {
			if err := fw.Remove(c.CgroupID); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		out.Rules = append(out.Rules, c.CgroupID)
	}
	return out, errs
}

// emptyGroups names the groups Prune would remove.
func emptyGroups(root Root, list []Entry, minAge time.Duration) []string {
	var names []string
	for _, e := range list {
		if !e.Populated && root.age(e.Name) >= minAge {
			names = append(names, e.Name)
		}
	}
	return names
}

// age is how long ago the group's directory was made (its ctime: never
// overstated but by a wall-clock step), or 0 when it cannot be read.
func (r Root) age(name string) time.Duration {
	var st unix.Stat_t
	if unix.Lstat(filepath.Join(r.Dir, name), &st) != nil {
		return 0
	}
	return time.Since(time.Unix(st.Ctim.Unix()))
}
