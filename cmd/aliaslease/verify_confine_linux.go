package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/aliaslease/aliaslease/lease"
)

// confinedAttach returns how verify puts its probe (no PREFIX) into l's
// confinement: the cgroup of a live confined holder (one whose group is
// still the one recorded, by id: a run --confine's, a confine --pid's in
// aliaslease's subtree, or the cgroup confine --cgroup named), entered with CLONE_INTO_CGROUP, as the
// user its processes run as (nobody if that cannot be read, never root),
// so that the probe's sockets are judged by the same rules as the tree's.
// attach is nil when l has no live confinement (the probe then runs as a
// plain host process); closeFn releases the group.
func confinedAttach(l lease.Lease) (attach func(*exec.Cmd) error, closeFn func()) {
	root, err := confine.Find()
	if err != nil {
		return nil, func() {}
	}
	for _, h := range l.Processes {
		if h.Confined == nil || h.Kind != lease.TreeCgroup {
			continue
		}
		g, err := openHeld(root, h.Cgroup)
		if err != nil {
			continue
		}
		if pop, err := g.Populated(); err != nil || !pop || g.ID() != h.Confined.CgroupID {
			g.Close()
			continue
		}
		cred := treeUser(g.Dir())
		return func(cmd *exec.Cmd) error {
			if err := g.Attach(cmd); err != nil {
				return err
			}
			cmd.SysProcAttr.Credential = cred
			return nil
		}, func() { g.Close() }
	}
	return nil, func() {}
}

// openHeld opens a confined holder's cgroup: a name in aliaslease's
// subtree, or the path below the mount (with its leading slash) of a
// cgroup confine --cgroup was given.
func openHeld(root confine.Root, cgroup string) (*confine.Group, error) {
	if strings.HasPrefix(cgroup, "/") {
		return root.OpenCgroup(cgroup)
	}
	return root.Open(cgroup)
}

// nobody is the user a probe runs as when the tree's cannot be read.
const nobody = 65534

// treeUser is the owner of the first process of the cgroup in dir, as a
// credential with that user's primary group only; nobody when there is
// none to read or it is root.
func treeUser(dir string) *syscall.Credential {
	cred := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{nobody}}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return cred
	}
	for f := range bytes.FieldsSeq(data) {
		pid, err := strconv.Atoi(string(f))
		if err != nil {
			continue
		}
		if fi, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
				return &syscall.Credential{Uid: st.Uid, Gid: st.Gid, Groups: []uint32{st.Gid}}
			}
		}
		break
	}
	return cred
}
