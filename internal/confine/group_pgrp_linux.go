package confine

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// SetSubreaper makes this process the child subreaper of its descendants
// (PR_SET_CHILD_SUBREAPER) for the rest of its life: an orphan of the tree
// is re-parented to it, not to init, so it stays a member of the tree.
func SetSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", err)
	}
	return nil
}

func (p *ProcGroup) populated() (bool, error) {
	if !p.wrapper && errors.Is(syscall.Kill(-p.pgid, 0), syscall.ESRCH) {
		return false, nil // no process at all in the group: no need to read /proc
	}
	m, err := p.members()
	return len(m) > 0, err
}

// signal sends sig to the process group, then to every member (setsid'd
// descendants of the wrapper included) until a pass finds none new.
func (p *ProcGroup) signal(sig syscall.Signal) error {
	if err := p.killGroup(sig); err != nil {
		return err
	}
	type key struct { // state changes between passes; this names a process
		pid   int
		start uint64
	}
	done := map[key]bool{}
	for range maxPasses {
		m, err := p.members()
		if err != nil {
			return err
		}
		fresh := false
		for _, s := range m {
			k := key{s.pid, s.start}
			if done[k] {
				continue
			}
			done[k], fresh = true, true
			if err := signalStat(s, sig); err != nil {
				return err
			}
		}
		if !fresh {
			return nil
		}
	}
	return fmt.Errorf("signal process group %d: %w", p.pgid, errStopped)
}

// signalStat signals the process s names through a pidfd, once its start
// time shows the PID was not reused since it was read. Kernels before 5.3
// have no pidfd: the signal then goes by PID, right after the check.
func signalStat(s procStat, sig syscall.Signal) error {
	pfd, err := unix.PidfdOpen(s.pid, 0)
	if err != nil && !errors.Is(err, unix.ENOSYS) {
		return ignoreGone(err)
	}
	if err == nil {
		defer unix.Close(pfd)
	}
	now, serr := readStat(s.pid)
	if serr != nil || now.start != s.start {
		return nil
	}
	if err != nil {
		return ignoreGone(syscall.Kill(s.pid, sig))
	}
	return ignoreGone(unix.PidfdSendSignal(pfd, sig, nil, 0))
}

// members lists the living members: processes of the group, and, in the
// wrapper, every descendant of this process. The wrapper reaps its
// zombie children other than the leader (whose status exec.Cmd.Wait
// wants): as subreaper it inherits the tree's orphans, and nobody else
// would reap them.
func (p *ProcGroup) members() ([]procStat, error) {
	all, err := scanProc()
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	parent := make(map[int]int, len(all))
	for _, s := range all {
		parent[s.pid] = s.ppid
	}
	var out []procStat
	for _, s := range all {
		if s.zombie() {
			if p.wrapper && s.ppid == self && s.pid != p.pgid {
				var ws unix.WaitStatus
				unix.Wait4(s.pid, &ws, unix.WNOHANG, nil)
			}
			continue
		}
		if s.pgrp == p.pgid || (p.wrapper && descends(s.pid, self, parent)) {
			out = append(out, s)
		}
	}
	return out, nil
}

// descends says whether pid is a descendant of anc in the parent map.
func descends(pid, anc int, parent map[int]int) bool {
	for range len(parent) {
		pp, ok := parent[pid]
		if !ok || pp == 0 {
			return false
		}
		if pp == anc {
			return true
		}
		pid = pp
	}
	return false
}

// scanProc reads every process's stat; one that ends meanwhile is left out.
func scanProc() ([]procStat, error) {
	des, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := make([]procStat, 0, len(des))
	for _, de := range des {
		pid, err := strconv.Atoi(de.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if s, err := readStat(pid); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	s, ok := parseStat(data)
	if !ok {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unreadable %q", pid, data)
	}
	return s, nil
}

// StartTime returns pid's start time (clock ticks after boot, from
// /proc/PID/stat), which with the PID names one process for good; ok is
// false when there is no such process.
func StartTime(pid int) (start uint64, ok bool) {
	s, err := readStat(pid)
	return s.start, err == nil
}
