package confine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/testsubtree"
)

// The test binary doubles as the child of several tests: helperEnv names
// the part it plays.
const helperEnv = "CONFINE_TEST_HELPER"

// testSlug starts the name of every group a test makes, so that TestMain
// can tell whether one was left behind.
const testSlug = "confinetest"

// exe is a copy of the test binary that user nobody can run (go test
// builds in a directory only root may enter); "" when not root.
var exe string

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
	case "cgroup":
		// First thing: where does this process live?
		b, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.Write(b)
		os.Exit(0)
	default:
		os.Exit(helper(os.Getenv(helperEnv), os.Args[1:]))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Geteuid() != 0 {
		return m.Run()
	}
	base := cgroupBase()
	release := testsubtree.Hold(base)
	defer release()
	dir, err := os.MkdirTemp("", "confine-exe-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	exe = filepath.Join(dir, "confine.test")
	if err := copyExe(exe); err != nil || os.Chmod(dir, 0o755) != nil {
		fmt.Fprintln(os.Stderr, "copy test binary:", err)
		return 1
	}
	code := m.Run()
	if left := leftovers(base); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: cgroups left behind in %s: %q\n", base, left)
		code = 1
	}
	return code
}

// cgroupBase is where Find puts the subtree as root ("" without cgroup2).
func cgroupBase() string { return RootSubtree() }

func leftovers(base string) []string {
	des, _ := os.ReadDir(base)
	var out []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), testSlug) {
			out = append(out, de.Name())
		}
	}
	return out
}

func copyExe(dst string) error {
	src, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// requireRoot skips a test that needs real cgroups and other users.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("ALIASLEASE_TEST_CONFINE") == "1" {
		t.Fatal("cgroup tests need root (ALIASLEASE_TEST_CONFINE=1)")
	}
	t.Skip("needs root: makes cgroups and runs processes as user nobody (set ALIASLEASE_TEST_CONFINE=1 to make this a failure)")
}

// findRoot is Find for a test that needs it to work.
func findRoot(t *testing.T) Root {
	t.Helper()
	requireRoot(t)
	r, err := Find()
	if err != nil {
		t.Fatalf("Find() = %v, want the cgroup2 subtree", err)
	}
	return r
}

// privateRoot is a subtree of the real one that only this test uses, so
// that List and Prune see nothing of other tests or other programs.
func privateRoot(t *testing.T) Root {
	t.Helper()
	r := findRoot(t)
	name, _ := RunName(testSlug, 0)
	p := Root{Mount: r.Mount, Dir: filepath.Join(r.Dir, name), path: r.path + "/" + name, level: r.level + 1}
	if err := os.Mkdir(p.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(t, p.Dir) })
	return p
}

// newGroup makes a group that is ended and removed when the test ends,
// however it ends.
func newGroup(t *testing.T, r Root) *Group {
	t.Helper()
	name, err := RunName(testSlug, 7)
	if err != nil {
		t.Fatal(err)
	}
	g, err := r.New(name)
	if err != nil {
		t.Fatalf("New(%q) = %v", name, err)
	}
	t.Cleanup(func() { removeGroup(t, r, name) })
	return g
}

// removeGroup kills what is left in the group and removes it.
func removeGroup(t *testing.T, r Root, name string) {
	g, err := r.Open(name)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) {
		return
	} else if err != nil {
		t.Errorf("cleanup: Open(%q) = %v", name, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Kill(); err != nil {
		t.Errorf("cleanup: Kill(%q) = %v", name, err)
	}
	if err := g.Wait(ctx); err != nil {
		t.Errorf("cleanup: Wait(%q) = %v", name, err)
	}
	if err := g.Remove(); err != nil {
		t.Errorf("cleanup: Remove(%q) = %v", name, err)
		g.Close()
	}
}

// shell starts "sh -c script" (in g, unless g is nil) and returns it with
// a reader of its stdout; the process is killed and waited for at the end.
func shell(t *testing.T, g *Group, script string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if g != nil {
		if err := g.Attach(cmd); err != nil {
			t.Fatalf("Attach = %v", err)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("Start(%q) = %v", script, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

// shellGroup starts "sh -c script" as a process group of its own.
func shellGroup(t *testing.T, script string) (*ProcGroup, *exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := StartProcGroup(cmd)
	if err != nil {
		t.Fatalf("StartProcGroup(%q) = %v", script, err)
	}
	t.Cleanup(func() { syscall.Kill(-pg.PGID(), syscall.SIGKILL); cmd.Wait() })
	return pg, cmd, bufio.NewReader(out)
}

// readPid reads one line that must be a PID, and makes sure that process
// is killed when the test ends.
func readPid(t *testing.T, r *bufio.Reader) int {
	t.Helper()
	line, err := r.ReadString('\n')
	pid, err2 := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || err2 != nil || pid <= 0 {
		t.Fatalf("read a pid: %q, %v", line, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// setsidDone waits until pid leads a process group of its own (setsid(1)
// calls setsid after the fork whose PID $! names).
func setsidDone(pid int) bool {
	for range 500 {
		if s, err := readStat(pid); err != nil || s.pgrp == pid {
			return err == nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// alive says whether pid runs (a zombie does not).
func alive(pid int) bool {
	s, err := readStat(pid)
	return err == nil && !s.zombie()
}

// cgroupOf is the cgroup2 path of a process.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatalf("cgroup of %d: %v", pid, err)
	}
	p, _ := parseOwnCgroup(b)
	return p
}

// asNobody runs the test binary as user nobody in helper mode, started
// into cgroup dir when it is not "" (its cgroup.procs must then accept
// the move, which root's always does).
func asNobody(t *testing.T, mode string, cgroupFD int, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		Pdeathsig:  syscall.SIGKILL,
	}
	if cgroupFD >= 0 {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, cgroupFD
	}
	return cmd
}
