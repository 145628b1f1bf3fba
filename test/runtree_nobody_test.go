package test

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemon is a CMD that leaves a double-forked, setsid process behind,
// one that listens on nothing.
const daemon = `( setsid "$L" -idle & ); exec sleep 600`

// TestRunProcGroupLimits: where run can have no cgroup (here: as nobody,
// outside any delegated subtree) its tree is a process group of its own,
// with the wrapper as child subreaper while it lives. This shows what
// that holds and what escapes it, as README says:
//   - a background process of a SIGKILLed wrapper keeps the lease until
//     it ends, as with a cgroup;
//   - a setsid daemon is ended with the tree while the wrapper lives;
//   - a setsid daemon of a SIGKILLed wrapper escapes: the lease is
//     reclaimed while it still runs (were it listening on the alias, the
//     listener would hold the lease).
func TestRunProcGroupLimits(t *testing.T) {
	needTrees(t)
	t.Run("background, wrapper killed", func(t *testing.T) {
		e := newRunEnv(t, true)
		slug := e.slug("pg-kill")
		tr := e.start(t, nil, slug, idle, 1, 1)
		if rw := e.row(t, slug); rw == nil || len(rw.Holders) != 1 || !strings.HasPrefix(rw.Holders[0].Name, "process group ") {
			t.Fatalf("list as nobody: %+v, want %s held by a process group", rw, slug)
		}
		tr.p.signal(t, syscall.SIGKILL)
		tr.p.result()
		time.Sleep(200 * time.Millisecond)
		if !alive(tr.ready[0].pid) {
			t.Fatalf("the group's process %d died with the wrapper", tr.ready[0].pid)
		}
		if out := e.gc(t); out != "" {
			t.Errorf("gc --grace 0s with the group's process running printed %q, want nothing", out)
		}
		syscall.Kill(tr.ready[0].pid, syscall.SIGKILL)
		waitGone(t, tr.ready[0].pid, 5*time.Second)
		e.wantStale(t, slug)
	})
	t.Run("setsid daemon, wrapper signalled", func(t *testing.T) {
		e := newRunEnv(t, true)
		slug := e.slug("pg-term")
		tr := e.start(t, nil, slug, daemon, 1, 1)
		tr.p.signal(t, syscall.SIGTERM)
		if r, _ := tr.p.wait(t, 5*time.Second); r.code != 143 {
			t.Errorf("run after SIGTERM: %v, want 143", r)
		}
		waitGone(t, tr.ready[0].pid, 2*time.Second)
		if rw := e.row(t, slug); rw != nil {
			t.Errorf("list after the run: %+v, want no lease", *rw)
		}
	})
	t.Run("setsid daemon, wrapper killed: escapes", func(t *testing.T) {
		e := newRunEnv(t, true)
		slug := e.slug("pg-escape")
		tr := e.start(t, nil, slug, daemon, 1, 1)
		tr.p.signal(t, syscall.SIGKILL)
		tr.p.result()
		waitGone(t, tr.p.cmd.Process.Pid, 2*time.Second)
		time.Sleep(200 * time.Millisecond) // the group's sleep: its parent-death signal
		// The limit, shown: nothing ties the daemon to the lease any more.
		e.wantStale(t, slug)
		if !alive(tr.ready[0].pid) {
			t.Errorf("the daemon %d is gone: the limit was not shown", tr.ready[0].pid)
		}
	})
}

// TestRunInteractiveProcGroup: a process group of its own is made the
// terminal's foreground group, so an interactive command reads the
// terminal (in the background it would stop at its first read), and run
// takes the terminal back after it. The terminal is script(1)'s.
func TestRunInteractiveProcGroup(t *testing.T) {
	needTrees(t)
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script(1) to give run a terminal")
	}
	e := newRunEnv(t, true)
	slug := e.slug("tty")
	line := shellQuote(e.bin) + " run --no-ifup " + slug + ` -- sh -c 'read x; echo "got $x"; exit 4'; echo "run $?"; ` +
		shellQuote(e.bin) + " list --json"
	cmd := command(scriptBin, e.env, "-qec", line, "/dev/null")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
	cmd.Stdin = strings.NewReader("hello\n")
	p := startProc(t, cmd)
	r, _ := p.wait(t, 10*time.Second)
	if !strings.Contains(r.stdout, "got hello") || !strings.Contains(r.stdout, "run 4") || r.code != 0 {
		t.Errorf("an interactive command under run on a terminal: %v; want it to read the line, run to exit 4, the terminal back", r)
	}
	if !strings.Contains(r.stdout, "[]") {
		t.Errorf("list after the interactive run: %q, want no lease", r.stdout)
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
