//go:build unix

package confine

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// ProcGroup holds a process tree as a process group of its own, where no
// cgroup can be had. It is weaker than a Group, and the difference is
// what escapes:
//
//   - Linux, while the wrapper lives: nothing that stays its descendant.
//     The wrapper is child subreaper (SetSubreaper), so orphans of the
//     tree are re-parented to it rather than to init, and the group's
//     members are the process group plus every descendant of the wrapper
//     (a setsid'd daemon included). The wrapper should start no other
//     children: they would count as members too.
//   - Linux, after the wrapper was SIGKILLed, and gc from another
//     process: only the process group. A descendant that called setsid
//     (or setpgid) is no longer seen, and the lease may be reclaimed
//     under it.
//   - macOS: only the process group, even while the wrapper lives (no
//     subreaper: an orphan goes to launchd), so a setsid'd descendant
//     escapes at once. A zombie leader not yet waited for counts as alive
//     there.
//
// A process group number can be reused once all of its members are gone;
// ProcGroup only tells whether the group has members, not whose they are,
// and Signal or Kill on a group opened by number reaches whatever group
// has that number now: only a wrapper's own ProcGroup is sure of its tree.
//
// A process group of its own is not the terminal's foreground group: an
// interactive command needs SysProcAttr.Foreground (and Ctty) as well.
type ProcGroup struct {
	pgid    int
	wrapper bool // started by this process: its descendants count too
}

// StartProcGroup starts cmd as the leader of a new process group (the
// rest of cmd.SysProcAttr is kept) and returns that group. On Linux the
// wrapper calls SetSubreaper first, so that no orphan of the tree is lost
// to init while the wrapper lives.
func StartProcGroup(cmd *exec.Cmd) (*ProcGroup, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Pgid = true, 0
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &ProcGroup{pgid: cmd.Process.Pid, wrapper: true}, nil
}

// OpenProcGroup is the process group pgid as another process sees it
// (gc after a wrapper's crash): its members are the group's processes.
func OpenProcGroup(pgid int) *ProcGroup { return &ProcGroup{pgid: pgid} }

// PGID is the process group's id (its leader's PID).
func (p *ProcGroup) PGID() int { return p.pgid }

// Populated says whether any member lives (zombies do not count on Linux).
func (p *ProcGroup) Populated() (bool, error) { return p.populated() }

// Signal sends sig to every member, again until no new member appears.
func (p *ProcGroup) Signal(sig syscall.Signal) error { return p.signal(sig) }

// Kill sends SIGKILL to every member.
func (p *ProcGroup) Kill() error { return p.signal(syscall.SIGKILL) }

// pollEvery is how often Wait looks: nothing notifies the end of a
// process group, and on Linux a wrapper's look reads all of /proc.
const pollEvery = 100 * time.Millisecond

// Wait returns once no member lives (nil) or ctx ends (ctx.Err()).
func (p *ProcGroup) Wait(ctx context.Context) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		pop, err := p.populated()
		if err != nil || !pop {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// killGroup sends sig to the whole process group; a group that has no
// process left is no error.
func (p *ProcGroup) killGroup(sig syscall.Signal) error {
	err := syscall.Kill(-p.pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
