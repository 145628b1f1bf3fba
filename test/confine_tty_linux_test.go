package test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// run --confine started from a terminal (the caller's controlling one, as
// an operator's root shell has it): the confined tree may read and write
// it, but TIOCSTI, which would push input that the caller's shell reads
// as root's next command once run has ended, is refused to it (EPERM: the
// tree has a session of its own, so the terminal is not its controlling
// one); the terminal's Ctrl-C still ends the tree (exit 130) and nothing
// of the confinement is left.
func TestRunConfineTerminal(t *testing.T) {
	e := newConfineEnv(t)
	ptm, pts := openPty(t)
	cmd := command(e.bin, e.env, "run", "--no-ifup", "--confine", "--user", "nobody", "tty", "--",
		"sh", "-c", `"$R" main id tiocsti; exec "$R" wait sleep:60s`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.Dir = "/"
	p := startProc(t, cmd)
	pts.Close()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(ptm); sc.Scan(); {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	got := map[string]string{}
	for deadline := time.After(30 * time.Second); got[key("main", "tiocsti")] == ""; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the terminal closed before reach answered; it read %v", got)
			}
			if i := strings.Index(l, "main "); i > 0 {
				l = l[i:] // after the echo of what TIOCSTI pushed, if it could
			}
			if f := strings.SplitN(l, " ", 3); len(f) == 3 {
				got[f[0]+" "+f[1]] = f[2]
			}
		case <-deadline:
			t.Fatalf("reach did not answer on the terminal within 30s; it read %v", got)
		}
	}
	dir, id := e.cgroupOf(t, got[key("main", "id")])
	if r := got[key("main", "tiocsti")]; r != "eperm" {
		t.Errorf("TIOCSTI on the caller's terminal from the confined tree = %q, want eperm", r)
	}
	time.Sleep(200 * time.Millisecond) // reach sleeping, in its own session
	if _, err := ptm.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	r, killed := p.waitFor(30 * time.Second)
	if killed || r.code != 130 {
		t.Errorf("run --confine after the terminal's Ctrl-C: %v (killed %v), want exit 130", r, killed)
	}
	noTrace(t, dir, id)
}

// openPty opens a pseudo-terminal pair, closed when the test ends.
func openPty(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return ptm, pts
}
