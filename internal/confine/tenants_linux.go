//go:build linux

package confine

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckTenants refuses the cgroup rel (CgroupPath's form) when it holds,
// in it or below, a process that is plainly no bottle's: the host's init
// (pid 1), a container engine's (dockerd, containerd, a containerd shim,
// podman's conmon) or the process that started this one or any ancestor
// of it (the shell confine was typed in). A Docker container's cgroup v2
// path names such a group where the engine gives the container none of
// its own (its cgroupfs driver with an older runc on a v1 or hybrid
// host): the container's processes sit with the shim's or dockerd's, and
// confining that group would cut the engine (or the host) off. This
// process itself may be in rel (a unit's ExecStartPost= confining its
// unit). It is a check of the path given, not a guard: a process may
// enter the cgroup after it. The error wraps ErrNotBottle and names up to
// three such processes.
func (r Root) CheckTenants(rel string) error {
	pids, err := cgroupPids(filepath.Join(r.Mount, rel))
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", rel, err)
	}
	ancestors := ancestorsOf(os.Getppid())
	var named []string
	seen := map[int]bool{} // a process is listed once per cgroup its threads are in
	for _, pid := range pids {
		what := tenantKind(pid, exeName(pid), ancestors)
		if what == "" || seen[pid] {
			continue
		}
		seen[pid] = true
		if len(named) == 3 {
			named = append(named, "...")
			break
		}
		named = append(named, fmt.Sprintf("pid %d (%s)", pid, what))
	}
	if len(named) > 0 {
		return fmt.Errorf("cgroup %s %w: %s", rel, ErrNotBottle, strings.Join(named, ", "))
	}
	return nil
}

// CheckTenant refuses pid, a process confine --pid is to move into a
// confined group, when it is plainly no bottle's, as CheckTenants refuses
// a cgroup holding it: the host's init, a container engine's (moving it
// would cut the engine and every container it starts off), or what
// started this process (the shell confine was typed in). The error wraps
// ErrNotBottle; a process gone is no error here (the move then fails).
func CheckTenant(pid int) error {
	if what := tenantKind(pid, exeName(pid), ancestorsOf(os.Getppid())); what != "" {
		return notBottle("pid " + strconv.Itoa(pid) + " is not a bottle's process: " + what)
	}
	return nil
}

// notBottle is ErrNotBottle in words of its own.
type notBottle string

func (e notBottle) Error() string { return string(e) }
func (e notBottle) Unwrap() error { return ErrNotBottle }

// tenantKind says what a process of a cgroup to be confined is when it
// is plainly no bottle's, "" otherwise; exe is its executable's base
// name, ancestors the processes that started this one.
func tenantKind(pid int, exe string, ancestors map[int]bool) string {
	switch {
	case pid == 1:
		return "the host's init, " + exe
	case exe == "dockerd" || exe == "containerd" || exe == "conmon" || strings.HasPrefix(exe, "containerd-shim"):
		return "a container engine's, " + exe
	case ancestors[pid]:
		return "what started this confine, " + exe
	}
	return ""
}

// ancestorsOf is pid and its ancestors, up to (not with) init.
func ancestorsOf(pid int) map[int]bool {
	out := map[int]bool{}
	for pid > 1 && !out[pid] {
		out[pid] = true
		s, err := readStat(pid)
		if err != nil {
			break
		}
		pid = s.ppid
	}
	return out
}

// exeName is the base name of pid's executable (its command name when
// the link cannot be read), "" when the process is gone.
func exeName(pid int) string {
	p := "/proc/" + strconv.Itoa(pid)
	if exe, err := os.Readlink(p + "/exe"); err == nil {
		return filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	}
	comm, _ := os.ReadFile(p + "/comm")
	return string(bytes.TrimSpace(comm))
}

// cgroupPids is every process of the cgroup at dir and below it.
func cgroupPids(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if removed(err) && path != dir {
				return nil // a child cgroup removed meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		got, err := groupPids(path)
		if removed(err) && path != dir {
			return nil
		}
		pids = append(pids, got...)
		return err
	})
	return pids, err
}

// removed reports whether err is that of a cgroup removed as it was
// read: its files are gone, or read as ENODEV once the cgroup is, as a
// bottle that makes and removes cgroups of its own does all the time.
func removed(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV)
}

// groupPids is the processes of the one cgroup at dir. A threaded cgroup
// (a VMM's vCPU threads, as libvirt places them under cgroup v2) refuses
// to list processes: its threads are read instead, each as its process.
func groupPids(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	threaded := errors.Is(err, unix.EOPNOTSUPP)
	if threaded {
		data, err = os.ReadFile(filepath.Join(dir, "cgroup.threads"))
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			if threaded {
				pid = tgid(pid)
			}
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// tgid is the process of thread tid, tid itself when that cannot be read
// (the thread gone: then its /proc entry tells nothing either).
func tgid(tid int) int {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return tid
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			if pid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return pid
			}
		}
	}
	return tid
}
