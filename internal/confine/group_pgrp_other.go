//go:build unix && !linux

package confine

import (
	"errors"
	"syscall"
)

// SetSubreaper fails: macOS has no child subreaper, so an orphan of the
// tree is re-parented to launchd (see ProcGroup for what escapes).
func SetSubreaper() error { return ErrNoSubreaper }

// populated asks the kernel whether the process group has any process
// (EPERM: it has, owned by someone else).
func (p *ProcGroup) populated() (bool, error) {
	err := syscall.Kill(-p.pgid, 0)
	switch {
	case err == nil, errors.Is(err, syscall.EPERM):
		return true, nil
	case errors.Is(err, syscall.ESRCH):
		return false, nil
	}
	return false, err
}

func (p *ProcGroup) signal(sig syscall.Signal) error { return p.killGroup(sig) }

// StartTime is unknown here (no /proc): ok is always false.
func StartTime(pid int) (start uint64, ok bool) { return 0, false }
