package confine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helper is the test binary's part as a child process (see helperEnv).
func helper(mode string, args []string) int {
	var err error
	switch mode {
	case "delegated":
		err = helperDelegated(args[len(args)-1])
	case "wrapper":
		err = helperWrapper()
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

// helperDelegated runs as nobody in a cgroup delegated to nobody: it finds
// its subtree, runs a command in a new group there and removes it.
func helperDelegated(name string) error {
	r, err := Find()
	if err != nil {
		return err
	}
	fmt.Printf("root %s %v\n", r.Dir, r.Delegated)
	g, err := r.New(name)
	if err != nil {
		return err
	}
	cmd := exec.Command("/bin/cat", "/proc/self/cgroup")
	if err := g.Attach(cmd); err != nil {
		return err
	}
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("cat in group: %w", err)
	}
	own, _ := parseOwnCgroup(out)
	fmt.Printf("child %s\ngroup %s %d\n", own, g.Path(), g.Level())
	if err := g.Remove(); err != nil {
		return err
	}
	fmt.Println("removed")
	return nil
}

// helperWrapper runs as nobody, where no cgroup can be had: it starts a
// process group whose leader leaves a member and a setsid'd orphan, says
// what it sees, then waits to be killed.
func helperWrapper() error {
	_, ferr := Find()
	fmt.Printf("nocgroup %v %q\n", errors.Is(ferr, ErrNoCgroup), fmt.Sprint(ferr))
	if err := SetSubreaper(); err != nil {
		return err
	}
	var out bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", `sleep 300 </dev/null >/dev/null 2>&1 & echo $!
(setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!)`)
	cmd.Stdout = &out
	pg, err := StartProcGroup(cmd)
	if err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return err
	}
	var member, escaper int
	if _, err := fmt.Sscan(out.String(), &member, &escaper); err != nil {
		return fmt.Errorf("pids %q: %w", out.String(), err)
	}
	if !setsidDone(escaper) {
		return fmt.Errorf("process %d never called setsid", escaper)
	}
	m, err := pg.members()
	if err != nil {
		return err
	}
	held := false
	for _, s := range m {
		held = held || s.pid == escaper
	}
	pop, err := pg.Populated()
	fmt.Printf("pgid %d member %d setsid %d populated %v %v setsid-held %v\n", pg.PGID(), member, escaper, pop, err, held)
	io.Copy(io.Discard, os.Stdin) // until killed
	return nil
}

// A non-root user in a delegated cgroup (as systemd's user@.service makes
// one: the directory and its cgroup.procs, cgroup.threads and
// cgroup.subtree_control owned by the user) gets a subtree of its own at
// the top of its delegation and runs commands in groups there.
func TestDelegated(t *testing.T) {
	r := findRoot(t)
	name, _ := RunName(testSlug, 1)
	top := filepath.Join(r.Dir, name) // the delegation: nobody's
	self := filepath.Join(top, "self")
	for _, d := range []string{top, self} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"} {
			if err := os.Chown(filepath.Join(d, f), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { removeTree(t, top) })
	fd, err := unix.Open(self, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	inner, _ := RunName(testSlug, 2)
	out, err := asNobody(t, "delegated", fd, inner).CombinedOutput()
	want := fmt.Sprintf("root %s/%s true\nchild %s/%s/%s/%s\ngroup %[3]s/%[4]s/%[5]s/%[6]s 4\nremoved\n",
		top, subtreeName, r.path, name, subtreeName, inner)
	if err != nil || string(out) != want {
		t.Errorf("delegated helper: %v\n%s\nwant\n%s", err, out, want)
	}
}

// removeTree removes a cgroup and every cgroup below it, deepest first,
// killing what lives there.
func removeTree(t *testing.T, dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.WriteFile(filepath.Join(dirs[i], "cgroup.kill"), []byte("1"), 0)
		for range 500 {
			if err := unix.Rmdir(dirs[i]); err == nil || !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("cleanup: %s is still there", dir)
	}
}

// The fallback, as user nobody (no cgroup can be had): the group is held
// while a member lives, whether or not the wrapper does; a setsid'd
// descendant is held while the wrapper (its subreaper) lives, and escapes
// once the wrapper is SIGKILLed: the lease may then be reclaimed while it
// still runs. This test shows that escape; it is what the README must say.
func TestProcGroupAsNobody(t *testing.T) {
	requireRoot(t)
	w := asNobody(t, "wrapper", -1)
	stdin, err := w.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	pipe, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	out := bufio.NewReader(pipe)
	line, _ := out.ReadString('\n')
	if !strings.HasPrefix(line, "nocgroup true ") || !strings.Contains(line, "not writable") {
		t.Errorf("Find() as nobody outside a delegation: %q, want ErrNoCgroup saying not writable", line)
	}
	line, _ = out.ReadString('\n')
	var pgid, member, escaper int
	var pop, held bool
	var perr string
	if _, err := fmt.Sscanf(line, "pgid %d member %d setsid %d populated %t %s setsid-held %t",
		&pgid, &member, &escaper, &pop, &perr, &held); err != nil {
		t.Fatalf("wrapper said %q: %v", line, err)
	}
	t.Cleanup(func() { syscall.Kill(member, syscall.SIGKILL); syscall.Kill(escaper, syscall.SIGKILL) })
	if !pop || perr != "<nil>" || !held {
		t.Errorf("wrapper's view: populated %v (%s), setsid'd orphan held %v; want true, true (it is their subreaper)", pop, perr, held)
	}
	checkHeld(t, pgid, true, "wrapper alive")
	w.Process.Kill()
	w.Wait()
	checkHeld(t, pgid, true, "wrapper SIGKILLed, a member of the group alive")
	syscall.Kill(member, syscall.SIGKILL)
	waitGone(t, member)
	if !alive(escaper) {
		t.Fatalf("setsid'd process %d died with the rest; the escape this test documents did not happen", escaper)
	}
	checkHeld(t, pgid, false, "wrapper SIGKILLed, only the setsid'd process alive (it escaped)")
}

// checkHeld checks what another process (gc) sees of process group pgid.
func checkHeld(t *testing.T, pgid int, want bool, when string) {
	t.Helper()
	if pop, err := OpenProcGroup(pgid).Populated(); pop != want || err != nil {
		t.Errorf("%s: OpenProcGroup(%d).Populated() = %v, %v; want %v", when, pgid, pop, err, want)
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 1000 {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d still alive after SIGKILL", pid)
}
