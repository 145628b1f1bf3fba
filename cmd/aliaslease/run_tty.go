package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// foreground makes cmd, about to start as a process group of its own,
// the terminal's foreground group when run itself is that group (an
// interactive command reads the terminal and gets its Ctrl-C; in the
// background it would stop at its first read). It reports whether it
// did, and then restore gives the terminal back to run's group.
func foreground(cmd *exec.Cmd) bool {
	fd := int(os.Stdin.Fd())
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || pgrp != unix.Getpgrp() {
		return false // no terminal, or run is not in its foreground
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Foreground, cmd.SysProcAttr.Ctty = true, fd
	return true
}

// restoreForeground makes run's own process group the terminal's
// foreground group again. Run is in the background then, where the
// terminal would stop it with SIGTTOU for asking: it ignores that
// signal meanwhile.
func restoreForeground() {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	unix.IoctlSetPointerInt(int(os.Stdin.Fd()), unix.TIOCSPGRP, unix.Getpgrp())
}
