package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runEnv is where the process-tree tests of run work: a database of their
// own, Docker off, a pool nothing else uses, and the user the binaries run
// as (root, or nobody for the path without a cgroup).
type runEnv struct {
	env      []string
	pool     testPool
	cred     *syscall.Credential // nil: this process's user
	bin      string              // aliaslease
	listener string              // testdata/listener
	tag      string              // makes the test's slugs its own (cgroups are shared with other runs)
}

// newRunEnv makes a runEnv for root (nobody false) or for nobody, whose
// binaries and database then live in directories nobody may use.
func newRunEnv(t *testing.T, nobody bool) *runEnv {
	t.Helper()
	e := &runEnv{pool: freePool(t, 16), bin: bin, listener: listener(t)}
	e.tag = strings.ReplaceAll(e.pool.at(0), ".", "-")
	dir := t.TempDir()
	if nobody {
		if !isRoot() {
			t.Skip("needs root, to run as nobody")
		}
		dir = nobodyDir(t)
		e.bin, e.listener = copyExe(t, dir, e.bin), copyExe(t, dir, e.listener)
		e.cred = &syscall.Credential{Uid: racerUID, Gid: racerUID}
	}
	e.env = []string{"ALIASLEASE_DB=" + filepath.Join(dir, "db", "leases.db"), "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=" + e.pool.spec(), "L=" + e.listener}
	return e
}

// nobodyDir is a directory of nobody's, on a path nobody may walk.
func nobodyDir(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "aliaslease-runtree")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(base, racerUID, racerUID); err != nil {
		t.Fatal(err)
	}
	return base
}

// copyExe copies the program exe into dir, executable by everyone.
func copyExe(t *testing.T, dir, exe string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(exe))
	b, err := os.ReadFile(exe)
	if err == nil {
		err = os.WriteFile(out, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// slug is name made the test's own.
func (e *runEnv) slug(name string) string { return name + "-" + e.tag }

// command prepares aliaslease with args, as e's user.
func (e *runEnv) command(args ...string) *exec.Cmd {
	cmd := command(e.bin, e.env, args...)
	if e.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
	}
	return cmd
}

// cli runs aliaslease with args to its end.
func (e *runEnv) cli(t *testing.T, args ...string) result {
	t.Helper()
	return finish(t, e.command(args...))
}

// gc runs gc --grace 0s and returns what it printed.
func (e *runEnv) gc(t *testing.T) string {
	t.Helper()
	r := e.cli(t, "gc", "--grace", "0s")
	if r.code != 0 {
		t.Fatalf("gc --grace 0s: %v", r)
	}
	return r.stdout
}

// row returns slug's row of list --json, nil when it has no lease.
func (e *runEnv) row(t *testing.T, slug string) *row {
	t.Helper()
	r := e.cli(t, "list", "--json")
	if r.code != 0 {
		t.Fatalf("list --json: %v", r)
	}
	var rows []row
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	for _, rw := range rows {
		if rw.Slug != nil && *rw.Slug == slug {
			return &rw
		}
	}
	return nil
}

// trees counts the process trees that list shows holding a row.
func (rw *row) trees() int {
	n := 0
	for _, h := range rw.Holders {
		if strings.HasPrefix(h.Name, "cgroup ") || strings.HasPrefix(h.Name, "process group ") {
			n++
		}
	}
	return n
}

// treeRun is one "aliaslease run" of the tree tests.
type treeRun struct {
	p      *proc
	out    *bufio.Reader // the command's stdout
	ready  []ready       // the listeners it started
	stderr string        // the file of its stderr
}

// ready is a listener's "ready HOST:PORT PID".
type ready struct {
	addr string
	pid  int
}

// start starts "aliaslease run --no-ifup FLAGS SLUG -- sh -c SCRIPT" ($L
// is the listener program), reads the ready lines of n listeners, and
// waits until list shows the slug held by trees process trees.
func (e *runEnv) start(t *testing.T, flags []string, slug, script string, n, trees int) *treeRun {
	t.Helper()
	// A pipe, not a buffer: the tree may outlive the wrapper and keep its
	// end open, and the wait for the wrapper must not wait for it.
	out, stdout, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	args := append(append([]string{"run", "--no-ifup"}, flags...), slug, "--", "sh", "-c", script)
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := e.command(args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	tr := &treeRun{p: startProc(t, cmd), out: bufio.NewReader(out), stderr: stderr.Name()}
	stdout.Close()
	lines := make(chan string)
	go func() {
		defer close(lines)
		for range n {
			line, err := tr.out.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	for range n {
		var line string
		select {
		case line = <-lines:
		case <-time.After(10 * time.Second):
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "ready" {
			b, _ := os.ReadFile(tr.stderr)
			t.Fatalf("run %s: line %q, want ready HOST:PORT PID; stderr %q", slug, line, b)
		}
		pid, _ := strconv.Atoi(f[2])
		tr.ready = append(tr.ready, ready{f[1], pid})
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	}
	e.waitTrees(t, slug, trees)
	return tr
}

// waitTrees waits until list shows slug held by n process trees.
func (e *runEnv) waitTrees(t *testing.T, slug string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rw := e.row(t, slug)
		if rw != nil && rw.trees() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("list never showed %s held by %d process trees: %+v", slug, n, rw)
		}
	}
}

// waitGone waits until pid has ended (a zombie has).
func waitGone(t *testing.T, pid int, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs %v later", pid, limit)
		}
	}
}

// unreachable fails the test when something answers on addr.
func unreachable(t *testing.T, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("something still answers on %s", addr)
	}
}

// reachable fails the test unless the listener answers on addr.
func reachable(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("nothing answers on %s: %v", addr, err)
	}
	defer c.Close()
	if b, _ := io.ReadAll(c); string(b) != "listener\n" {
		t.Errorf("%s answered %q, want the listener", addr, b)
	}
}

// runGroups returns the cgroups of slug's runs left in aliaslease's
// subtree (none where there is no cgroup2).
func runGroups(t *testing.T, slug string) []string {
	t.Helper()
	mount := cgroup2Mount(t)
	if mount == "" {
		return nil
	}
	des, _ := os.ReadDir(filepath.Join(mount, "aliaslease"))
	var out []string
	for _, de := range des {
		if de.IsDir() && strings.HasPrefix(de.Name(), slug+".") {
			out = append(out, de.Name())
		}
	}
	return out
}

// noGroups fails the test when a cgroup of slug's runs is left.
func noGroups(t *testing.T, slug string) {
	t.Helper()
	if gs := runGroups(t, slug); len(gs) > 0 {
		t.Errorf("cgroups of %s left behind: %v", slug, gs)
	}
}

// cgroup2Mount is where cgroup2 is mounted, from /proc/self/mountinfo.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if f, g := strings.Fields(pre), strings.Fields(post); ok && len(f) >= 5 && len(g) > 0 && g[0] == "cgroup2" {
			return f[4]
		}
	}
	return ""
}

// wantStale fails the test unless gc --grace 0s reclaims slug's lease,
// and only it.
func (e *runEnv) wantStale(t *testing.T, slug string) {
	t.Helper()
	if out, want := e.gc(t), fmt.Sprintf("%s %s no-holder\n", slug, e.pool.at(0)); out != want {
		t.Errorf("gc --grace 0s printed %q, want %q", out, want)
	}
}
