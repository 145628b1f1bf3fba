package test

import (
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
