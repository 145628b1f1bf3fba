package confine

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFind(t *testing.T) {
	r := findRoot(t)
	if err := os.Remove(r.Dir); err == nil { // empty: nothing else uses it now
		g := newGroup(t, r) // New makes the subtree again
		if filepath.Dir(g.Dir()) != r.Dir {
			t.Errorf("New() after the subtree was removed: %s, want it in %s", g.Dir(), r.Dir)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(r.Dir, &st); err != nil {
		t.Fatalf("Find() = %+v: %v", r, err)
	}
	if r.Delegated || st.Uid != 0 || st.Mode&0o7777 != 0o755 || r.Dir != cgroupBase() {
		t.Errorf("Find() = %+v (uid %d, mode %o), want %s, root's, 0755, not delegated", r, st.Uid, st.Mode&0o7777, cgroupBase())
	}
}

// A command is in its group from its first instruction: what it reads
// from /proc/self/cgroup before anything else is the group.
func TestStartsInside(t *testing.T) {
	r := findRoot(t)
	tests := []struct {
		name string
		cmd  func() *exec.Cmd
	}{
		{"cat", func() *exec.Cmd { return exec.Command("/bin/cat", "/proc/self/cgroup") }},
		{"go binary", func() *exec.Cmd {
			c := exec.Command(exe)
			c.Env = append(os.Environ(), helperEnv+"=cgroup")
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGroup(t, r)
			cmd := tt.cmd()
			if err := g.Attach(cmd); err != nil {
				t.Fatal(err)
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("run in group: %v", err)
			}
			if got, _ := parseOwnCgroup(out); got != g.Path() {
				t.Errorf("child's /proc/self/cgroup = %q, want 0::%s", out, g.Path())
			}
			if pop, err := g.Populated(); pop || err != nil {
				t.Errorf("Populated() after the child exited = %v, %v; want false, nil", pop, err)
			}
		})
	}
}

// A double-forked setsid grandchild stays in the group; Kill ends it;
// the group is then empty and can be removed.
func TestTreeStaysInside(t *testing.T) {
	r := findRoot(t)
	for _, killFile := range []bool{true, false} {
		t.Run("cgroup.kill="+strconv.FormatBool(killFile), func(t *testing.T) {
			g := newGroup(t, r)
			cmd, out := shell(t, g, `(setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!)`)
			pid := readPid(t, out)
			cmd.Wait()
			if s, err := readStat(pid); !setsidDone(pid) || err != nil || s.ppid == cmd.Process.Pid {
				t.Fatalf("grandchild %d: %+v, %v; want a setsid orphan", pid, s, err)
			}
			if got := cgroupOf(t, pid); got != g.Path() {
				t.Errorf("grandchild's cgroup = %q, want %q", got, g.Path())
			}
			if pop, err := g.Populated(); !pop || err != nil {
				t.Fatalf("Populated() = %v, %v while the grandchild lives; want true", pop, err)
			}
			useKillFile = killFile
			defer func() { useKillFile = true }()
			if err := g.Kill(); err != nil {
				t.Fatalf("Kill() = %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := g.Wait(ctx); err != nil {
				t.Fatalf("Wait() after Kill = %v", err)
			}
			if pop, err := g.Populated(); pop || err != nil || alive(pid) {
				t.Errorf("after Kill: Populated() = %v, %v, grandchild alive %v; want false, nil, false", pop, err, alive(pid))
			}
			other, err := r.Open(g.Name()) // as gc would hold it
			if err != nil {
				t.Fatalf("Open(%q) = %v", g.Name(), err)
			}
			defer other.Close()
			if err := g.Remove(); err != nil {
				t.Fatalf("Remove() = %v", err)
			}
			if _, err := os.Stat(g.Dir()); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after Remove: stat %s = %v, want not exist", g.Dir(), err)
			}
			if pop, err := other.Populated(); pop || err != nil {
				t.Errorf("Populated() of a removed group = %v, %v; want false, nil (its holder is gone)", pop, err)
			}
			if err := other.Wait(context.Background()); err != nil {
				t.Errorf("Wait() on a removed group = %v, want nil", err)
			}
		})
	}
}

func TestRemoveRefusesPopulated(t *testing.T) {
	r := findRoot(t)
	g := newGroup(t, r)
	_, out := shell(t, g, `sleep 300 & echo $!; wait`)
	readPid(t, out)
	if err := g.Remove(); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Remove() of a populated group = %v, want EBUSY", err)
	}
	if _, err := os.Stat(g.Dir()); err != nil {
		t.Errorf("after a refused Remove: %v, want the group still there", err)
	}
}

// Two groups of one slug and generation are two groups; List finds each
// by name with whether it is populated.
func TestListTwoRuns(t *testing.T) {
	r := privateRoot(t)
	busy, idle := newGroup(t, r), newGroup(t, r)
	if busy.Name() == idle.Name() || busy.ID() == idle.ID() {
		t.Fatalf("two groups: %q (id %d), %q (id %d); want distinct", busy.Name(), busy.ID(), idle.Name(), idle.ID())
	}
	_, out := shell(t, busy, `sleep 300 & echo $!; wait`)
	readPid(t, out)
	list, err := r.List()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	for _, tt := range []struct {
		g    *Group
		want bool
	}{{busy, true}, {idle, false}} {
		i := slices.IndexFunc(list, func(e Entry) bool { return e.Name == tt.g.Name() })
		if i < 0 || list[i].Populated != tt.want {
			t.Errorf("List() = %+v, want %q with Populated %v", list, tt.g.Name(), tt.want)
			continue
		}
		if slug, gen, _, ok := ParseRunName(list[i].Name); !ok || slug != testSlug || gen != 7 {
			t.Errorf("ParseRunName(%q) = %q, %d, %v; want %q, 7", list[i].Name, slug, gen, ok, testSlug)
		}
	}
	if _, err := r.New(idle.Name()); !errors.Is(err, fs.ErrExist) {
		t.Errorf("New(%q) again = %v, want ErrExist", idle.Name(), err)
	}
}

// The id is what nftables compares: the file handle's payload, which on a
// 64-bit host is the directory's inode number; Level counts from the root.
func TestIDAndLevel(t *testing.T) {
	r := findRoot(t)
	g := newGroup(t, r)
	var st syscall.Stat_t
	if err := syscall.Stat(g.Dir(), &st); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("stat", "-c", "%i", g.Dir()).Output()
	if err != nil {
		t.Fatal(err)
	}
	if g.ID() != st.Ino || strings.TrimSpace(string(out)) != strconv.FormatUint(g.ID(), 10) {
		t.Errorf("ID() = %d, want the inode: stat(2) %d, stat -c %%i %s", g.ID(), st.Ino, out)
	}
	if want := uint32(strings.Count(g.Path(), "/")); g.Level() != want || want < 2 {
		t.Errorf("Level() = %d for %q, want %d", g.Level(), g.Path(), want)
	}
	for _, bad := range []string{"..", "a/b", "", "cgroup.kill"} {
		if _, err := r.New(bad); !errors.Is(err, ErrName) {
			t.Errorf("New(%q) = %v, want ErrName", bad, err)
		}
	}
}

func TestSignalWholeTree(t *testing.T) {
	r := findRoot(t)
	g := newGroup(t, r)
	_, out := shell(t, g, `sleep 300 & echo $!; (setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!); wait`)
	a, b := readPid(t, out), readPid(t, out)
	if err := g.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM) = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Wait(ctx); err != nil || alive(a) || alive(b) {
		t.Errorf("Wait() after SIGTERM = %v, alive %v %v; want nil, both gone", err, alive(a), alive(b))
	}
}

func TestWait(t *testing.T) {
	r := findRoot(t)
	g := newGroup(t, r)
	_, out := shell(t, g, `sleep 300 & echo $!; wait`)
	pid := readPid(t, out)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait() on a populated group = %v, want DeadlineExceeded", err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait(context.Background()) }()
	syscall.Kill(pid, syscall.SIGKILL) // sh's wait returns, sh exits: the group empties
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Wait() = %v, want nil once empty", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Wait() did not return after the group emptied")
	}
}

// Terminate ends a tree that honours SIGTERM without SIGKILL, and one that
// ignores it with SIGKILL after the grace; for both kinds of tree.
func TestTerminate(t *testing.T) {
	r := findRoot(t)
	tests := []struct {
		name       string
		script     string
		wantKilled bool
	}{
		{"honours TERM", `sleep 300 & echo $!; wait`, false},
		{"ignores TERM", `trap "" TERM; sleep 300 & echo $!; wait`, true},
	}
	for _, kind := range []string{"cgroup", "process group"} {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				var tree Tree
				var cmd *exec.Cmd
				var pid int
				if kind == "cgroup" {
					g := newGroup(t, r)
					c, out := shell(t, g, tt.script)
					tree, cmd, pid = g, c, readPid(t, out)
				} else {
					pg, c, out := shellGroup(t, tt.script)
					tree, cmd, pid = pg, c, readPid(t, out)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				killed, err := Terminate(ctx, tree, syscall.SIGTERM, 300*time.Millisecond)
				if err != nil || killed != tt.wantKilled {
					t.Fatalf("Terminate() = %v, %v; want %v, nil", killed, err, tt.wantKilled)
				}
				cmd.Wait()
				if pop, err := tree.Populated(); pop || err != nil || alive(pid) {
					t.Errorf("after Terminate: Populated() = %v, %v, child alive %v; want all gone", pop, err, alive(pid))
				}
			})
		}
	}
}

// Prune removes empty groups old enough, and neither populated ones nor
// ones younger than minAge.
func TestPrune(t *testing.T) {
	r := privateRoot(t)
	busy, idle := newGroup(t, r), newGroup(t, r)
	_, out := shell(t, busy, `sleep 300 & echo $!; wait`)
	readPid(t, out)
	if got, err := r.Prune(time.Hour); err != nil || len(got) != 0 {
		t.Errorf("Prune(1h) = %q, %v; want nothing removed (%q is younger than an hour)", got, err, idle.Name())
	}
	if got, err := r.Prune(0); err != nil || !slices.Equal(got, []string{idle.Name()}) {
		t.Errorf("Prune(0) = %q, %v; want [%q] (%q is populated)", got, err, idle.Name(), busy.Name())
	}
	if _, err := os.Stat(busy.Dir()); err != nil {
		t.Errorf("populated group after Prune: %v", err)
	}
	if _, err := os.Stat(idle.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty group after Prune: %v, want removed", err)
	}
}

// A group removed by someone else while it is open (run's wrapper and
// release --force, both ending one tree) is empty to the other handle:
// Populated says so without an error, and Wait returns at once.
func TestRemovedWhileOpen(t *testing.T) {
	r := findRoot(t)
	g := newGroup(t, r)
	other, err := r.Open(g.Name())
	if err != nil {
		t.Fatalf("Open(%q) = %v", g.Name(), err)
	}
	defer other.Close()
	if err := g.Remove(); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if pop, err := other.Populated(); pop || err != nil {
		t.Errorf("Populated() of a removed group = %v, %v; want false, nil", pop, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := other.Wait(ctx); err != nil {
		t.Errorf("Wait() on a removed group = %v, want nil", err)
	}
}
