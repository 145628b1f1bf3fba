//go:build linux

package test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/confine"
	"golang.org/x/sys/unix"
)

// confineDB is a database of the test's own over a pool of its own, with
// leases a and b acquired; it returns their aliases.
func confineDB(t *testing.T) (env []string, a, b string) {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root: cgroups and the host's firewall")
	}
	p := hostPool(t, 4)
	env = []string{"ALIASLEASE_DOCKER=off", "ALIASLEASE_DB=" + filepath.Join(t.TempDir(), "leases.db"), "ALIASLEASE_POOL=" + p.spec()}
	a = strings.TrimSpace(mustCLI(t, env, "acquire", "--no-ifup", "a"))
	b = strings.TrimSpace(mustCLI(t, env, "acquire", "--no-ifup", "b"))
	return env, a, b
}

// TestConfinePID (#24): confine --pid on a running process confines the
// connections it opens from then on (TCP to another pool alias refused,
// to its own alias passes) and not one it already had; list and inspect
// show it confined and what it allows; release refuses while it lives
// (exit 2, ErrHeld's); with no wrapper left (what a SIGKILLed wrapper
// leaves), gc keeps its rules while the tree lives, restores them when
// they are deleted, and removes them and the holder once the tree is gone.
func TestConfinePID(t *testing.T) {
	env, a, b := confineDB(t)
	portA, portB := echoOn(t, a), echoOn(t, b)
	cl := startClient(t, "")
	if got := cl.do(t, "open "+b+" "+portB); got != "ok" {
		t.Fatalf("before confine, open %s:%s = %q, want ok", b, portB, got)
	}
	pid := strconv.Itoa(cl.cmd.Process.Pid)
	c := confineCLI(t, env, "--confine-allow", "127.0.0.1:9", "a", "--pid", pid)
	if !slices.Equal(c.Moved, []int{cl.cmd.Process.Pid}) || !strings.HasPrefix(c.Cgroup, "/aliaslease/a.") {
		t.Errorf("confine --pid %s = %+v, want it moved alone into a group of aliaslease's", pid, c)
	}
	if got, err := confine.CgroupOf(cl.cmd.Process.Pid); err != nil || got != c.Cgroup {
		t.Errorf("the process is in %q (%v), want %q", got, err, c.Cgroup)
	}
	for _, tc := range []struct{ req, want string }{
		{"connect " + b + " " + portB, refused},
		{"connect " + a + " " + portA, "ok"},
		{"old", "ok"}, // the connection it had before stays
	} {
		if got := cl.do(t, tc.req); got != tc.want {
			t.Errorf("confined client %q = %q, want %q", tc.req, got, tc.want)
		}
	}
	iso, allows := shownAllows(t, env, "a")
	if iso != "confined" || len(allows) < 2 || allows[0] != a || !slices.Contains(allows, "127.0.0.1:9") {
		t.Errorf("list/inspect: a is %q allowing %v, want confined allowing %s first and 127.0.0.1:9", iso, allows, a)
	}
	if row := tableRow(t, env, "a"); !strings.Contains(row, " confined ") || !strings.Contains(row, "allowing 127.0.0.1:9") {
		t.Errorf("list's table row of a = %q, want it confined, its holder allowing 127.0.0.1:9", row)
	}
	if r := cli(t, env, "release", "a"); r.code != 2 || !strings.Contains(r.stderr, "confined cgroup") {
		t.Errorf("release of a confined live tree's lease: %v, want exit 2 naming it", r)
	}
	// The rules deleted under the live tree (a firewall reload): gc puts
	// them back, and the tree is refused again.
	if err := confine.HostFirewall().Remove(c.CgroupID); err != nil {
		t.Fatal(err)
	}
	if got := cl.do(t, "connect "+b+" "+portB); got != "ok" {
		t.Fatalf("with its rules deleted, connect to %s = %q: the test cannot tell", b, got)
	}
	mustCLI(t, env, "gc")
	if !present(t, c.CgroupID) {
		t.Errorf("gc did not restore the rules of a populated confined cgroup")
	}
	if got := cl.do(t, "connect "+b+" "+portB); got != refused {
		t.Errorf("after gc restored the rules, connect to %s = %q, want %q", b, got, refused)
	}
	cl.stop()
	mustCLI(t, env, "gc")
	if present(t, c.CgroupID) {
		t.Errorf("gc left the rules of a confined tree that is gone")
	}
	if _, err := os.Stat(filepath.Join(confine.RootSubtree(), strings.TrimPrefix(c.Cgroup, "/aliaslease/"))); !os.IsNotExist(err) {
		t.Errorf("gc left the group of a tree that is gone: %v", err)
	}
	if iso, allows := shownAllows(t, env, "a"); iso == "confined" || allows != nil {
		t.Errorf("after the tree is gone, a is %q allowing %v, want it no longer confined", iso, allows)
	}
	if out := mustCLI(t, env, "release", "a"); strings.TrimSpace(out) != a {
		t.Errorf("release after gc printed %q, want %s", out, a)
	}
}

// TestConfineCgroup (#24): confine --cgroup on a cgroup someone else made
// confines a process started in it; release refuses while it is held
// (exit 2), doctor names it when its rules are missing, confine --release
// lifts it on purpose (connections pass again; the audit log has the
// unconfine event), and release --force ends the tree, then removes the
// rules, and leaves the cgroup in place.
func TestConfineCgroup(t *testing.T) {
	env, a, b := confineDB(t)
	portA, portB := echoOn(t, a), echoOn(t, b)
	dir, rel := foreignCgroup(t)
	c := confineCLI(t, env, "a", "--cgroup", dir)
	if c.Cgroup != rel || !present(t, c.CgroupID) {
		t.Fatalf("confine --cgroup %s = %+v, want %s with its rules in place", dir, c, rel)
	}
	if out := mustCLI(t, env, "cleanup"); strings.Contains(out, strconv.FormatUint(c.CgroupID, 10)) || !present(t, c.CgroupID) {
		t.Errorf("cleanup printed %q and removed the rules of a cgroup someone made that exists (empty)", out)
	}
	cl := startClient(t, dir)
	if got := cl.do(t, "connect "+b+" "+portB); got != refused {
		t.Errorf("a process started in the confined cgroup: connect to %s = %q, want %q", b, got, refused)
	}
	if got := cl.do(t, "connect "+a+" "+portA); got != "ok" {
		t.Errorf("a process started in the confined cgroup: connect to its own alias %s = %q, want ok", a, got)
	}
	if r := cli(t, env, "release", "a"); r.code != 2 {
		t.Errorf("release while the cgroup is populated: %v, want exit 2", r)
	}
	if r := cli(t, env, "confine", "b", "--cgroup", dir); r.code != 2 || !strings.Contains(r.stderr, "confined already, to a; lift that confinement first (aliaslease confine --release a)") {
		t.Errorf("confine b of the cgroup a confines: %v, want exit 2 naming a", r)
	}
	if iso, allows := shownAllows(t, env, "a"); iso != "confined" || len(allows) == 0 || allows[0] != a {
		t.Errorf("list/inspect: a is %q allowing %v, want confined allowing %s", iso, allows, a)
	}
	confineDoctor(t, env, c.CgroupID, "a")
	out := mustCLI(t, env, "confine", "--release", "a")
	if out != "unconfined "+rel+"\n" || present(t, c.CgroupID) {
		t.Errorf("confine --release printed %q, rules present %v; want %s lifted", out, present(t, c.CgroupID), rel)
	}
	if got := cl.do(t, "connect "+b+" "+portB); got != "ok" {
		t.Errorf("after confine --release, connect to %s = %q, want ok", b, got)
	}
	if log := mustCLI(t, env, "log"); !strings.Contains(log, "unconfine") || !strings.Contains(log, "confine ") {
		t.Errorf("the audit log lacks the confine and unconfine events:\n%s", log)
	}
	if r := cli(t, env, "release", "a"); r.code != 2 {
		t.Errorf("release after confine --release: %v, want exit 2 (the tree still holds the lease)", r)
	}
	// Confined again, then released with --force: the tree ends first,
	// then its rules go; the cgroup is someone else's and stays.
	c = confineCLI(t, env, "a", "--cgroup", rel)
	start := time.Now()
	if out := mustCLI(t, env, "release", "--force", "--kill-after", "2s", "a"); strings.TrimSpace(out) != a {
		t.Errorf("release --force printed %q, want %s", out, a)
	}
	select {
	case <-exited(cl):
	case <-time.After(5 * time.Second):
		t.Errorf("release --force left the confined cgroup's process running")
	}
	if present(t, c.CgroupID) {
		t.Errorf("release --force left the rules of cgroup %d", c.CgroupID)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("release --force removed a cgroup aliaslease did not make: %v", err)
	}
	t.Logf("release --force took %v", time.Since(start))
}

// exited is closed once the client's process has ended.
func exited(c *client) <-chan struct{} {
	done := make(chan struct{})
	go func() { c.cmd.Process.Wait(); close(done) }()
	return done
}

// confineDoctor deletes cgroup id's rules and checks that doctor names
// slug's confinement without rules (exit 10), and that after gc restored
// them it no longer does.
func confineDoctor(t *testing.T, env []string, id uint64, slug string) {
	t.Helper()
	if err := confine.HostFirewall().Remove(id); err != nil {
		t.Fatal(err)
	}
	named := slug + " on "
	r := cli(t, env, "doctor")
	if r.code != 10 || !strings.Contains(r.stdout, "- confinement: "+named) || !strings.Contains(r.stdout, "missing from the firewall") {
		t.Errorf("doctor with a confined lease's rules deleted: %v, want exit 10 naming %s", r, slug)
	}
	mustCLI(t, env, "gc")
	if !present(t, id) {
		t.Fatalf("gc did not restore the rules of cgroup %d", id)
	}
	if r := cli(t, env, "doctor", "--json"); strings.Contains(r.stdout, "missing from the firewall") {
		t.Errorf("doctor after gc restored the rules still names them missing: %v", r)
	}
}

// TestConfineCrash (#24): a confine killed between installing its rules
// and recording them leaves a rule set no lease records: gc keeps it
// while its cgroup lives (it still refuses) and removes it once the
// cgroup is gone. One killed after recording, before moving the process,
// leaves an empty group: gc removes it, its rules and the holder.
func TestConfineCrash(t *testing.T) {
	env, a, _ := confineDB(t)
	dir, _ := foreignCgroup(t)
	cl := startClient(t, dir)
	r := runBin(t, crashBin, append(env, "ALIASLEASE_CRASH=confine-installed"), "confine", "a", "--cgroup", dir)
	if !r.signaled() {
		t.Fatalf("confine with a crash after installing: %v, want it killed", r)
	}
	id := cgroupIDOf(t, dir)
	t.Cleanup(func() { confine.HostFirewall().Remove(id) })
	if !present(t, id) {
		t.Fatalf("the killed confine installed no rules for cgroup %d", id)
	}
	mustCLI(t, env, "gc")
	if !present(t, id) {
		t.Errorf("gc removed the rules of a cgroup that lives")
	}
	cl.stop()
	if err := removeCgroup(dir); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "gc")
	if present(t, id) {
		t.Errorf("gc left the rules of a cgroup that is gone and no lease records")
	}

	victim := startClient(t, "")
	r = runBin(t, crashBin, append(env, "ALIASLEASE_CRASH=confine-recorded"), "confine", "a", "--pid", strconv.Itoa(victim.cmd.Process.Pid))
	if !r.signaled() {
		t.Fatalf("confine with a crash after recording: %v, want it killed", r)
	}
	if got, _ := confine.CgroupOf(victim.cmd.Process.Pid); strings.HasPrefix(got, "/aliaslease/") {
		t.Errorf("the killed confine moved the process into %s before it should", got)
	}
	left := killedGroup(t)
	mustCLI(t, env, "gc")
	if present(t, left.ID()) {
		t.Errorf("gc left the rules of the killed confine's empty group %s", left.Name())
	}
	if _, err := os.Stat(left.Dir()); !os.IsNotExist(err) {
		t.Errorf("gc left the killed confine's empty group %s: %v", left.Name(), err)
	}
	if out := mustCLI(t, env, "inspect", "a"); strings.Contains(out, "confined cgroup") {
		t.Errorf("gc left the holder of the killed confine's empty group: %s", out)
	}
	if out := mustCLI(t, env, "release", "a"); strings.TrimSpace(out) != a {
		t.Errorf("release after gc printed %q, want %s", out, a)
	}
}

// killedGroup finds the empty group of slug a with rules that a killed
// confine --pid left, and closes it when the test ends.
func killedGroup(t *testing.T) *confine.Group {
	t.Helper()
	root, err := confine.Find()
	if err != nil {
		t.Fatal(err)
	}
	list, err := root.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if !strings.HasPrefix(e.Name, "a.") || e.Populated {
			continue
		}
		g, err := root.Open(e.Name)
		if err != nil {
			continue
		}
		if present(t, g.ID()) {
			t.Cleanup(func() { g.Close(); confine.HostFirewall().Remove(g.ID()) })
			return g
		}
		g.Close()
	}
	t.Fatalf("no empty group of a with rules in %s: the killed confine left none", root.Dir)
	return nil
}

// cgroupIDOf is the cgroup id of dir, as the kernel and nftables know it
// (its kernfs file handle).
func cgroupIDOf(t *testing.T, dir string) uint64 {
	t.Helper()
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, 0)
	if err != nil || len(h.Bytes()) != 8 {
		t.Fatalf("name_to_handle_at(%s) = %v", dir, err)
	}
	return binary.NativeEndian.Uint64(h.Bytes())
}

// TestConfineFailsClosed (#24): a confinement that cannot be set up
// confines, moves and installs nothing: a missing part (not root, no
// lease) is exit 9 naming it, bad input exit 2.
func TestConfineFailsClosed(t *testing.T) {
	env, _, _ := confineDB(t)
	root, err := confine.Find()
	if err != nil {
		t.Fatal(err)
	}
	cl := startClient(t, "")
	pid := strconv.Itoa(cl.cmd.Process.Pid)
	was, err := confine.CgroupOf(cl.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// A process named as a container engine's: --pid must not move it.
	sleep, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	engine := filepath.Join(t.TempDir(), "dockerd")
	if err := os.WriteFile(engine, sleep, 0o755); err != nil {
		t.Fatal(err)
	}
	eng := startProc(t, exec.Command(engine, "60"))
	waitComm(t, eng.cmd.Process.Pid, "dockerd")
	engWas, err := confine.CgroupOf(eng.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var db string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "ALIASLEASE_DB="); ok {
			db = v
		}
	}
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		nobody bool
		code   int
		says   string
	}{
		{"no lease", []string{"zz", "--pid", pid}, false, 9, "zz has no lease"},
		{"not root", []string{"a", "--pid", pid}, true, 9, "needs root"},
		{"not root, lifting", []string{"a", "--release"}, true, 9, "needs root: only root can remove the firewall rules (nftables); nothing lifted"},
		{"bad allow", []string{"a", "--pid", pid, "--confine-allow", "127.0.0.1"}, false, 2, "not ADDR:PORT"},
		{"no mode", []string{"a"}, false, 2, "one of --cgroup PATH, --pid PID or --release"},
		{"two modes", []string{"a", "--pid", pid, "--cgroup", "/x"}, false, 2, "one of"},
		{"pid 1", []string{"a", "--pid", "1"}, false, 2, "other than 1"},
		{"an engine's process", []string{"a", "--pid", strconv.Itoa(eng.cmd.Process.Pid)}, false, 2, "is not a bottle's process: a container engine's, dockerd; nothing confined"},
		{"what started confine", []string{"a", "--pid", strconv.Itoa(os.Getpid())}, false, 2, "is not a bottle's process: what started this confine"},
		{"root cgroup", []string{"a", "--cgroup", root.Mount}, false, 2, "root cgroup"},
		{"own subtree", []string{"a", "--cgroup", root.Dir}, false, 2, "aliaslease's own subtree"},
		{"no cgroup", []string{"a", "--cgroup", "/aliaslease-test-none"}, false, 2, "no such cgroup"},
	} {
		cmd := command(bin, env, append([]string{"confine"}, tc.args...)...)
		if tc.nobody {
			cmd = command(copyExe(t, nobodyDir(t), bin), env, append([]string{"confine"}, tc.args...)...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: racerUID, Gid: racerUID}}
		}
		r := finish(t, cmd)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.says) || r.stdout != "" {
			t.Errorf("%s: confine %v: %v, want exit %d saying %q", tc.name, tc.args, r, tc.code, tc.says)
		}
	}
	if after, err := os.ReadFile(db); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the failed confines changed the database (%v)", err)
	}
	if now, _ := confine.CgroupOf(cl.cmd.Process.Pid); now != was {
		t.Errorf("the process moved from %s to %s, though nothing was confined", was, now)
	}
	if now, _ := confine.CgroupOf(eng.cmd.Process.Pid); now != engWas {
		t.Errorf("the engine's process moved from %s to %s, though nothing was confined", engWas, now)
	}
	if iso, allows := shownAllows(t, env, "a"); iso == "confined" || allows != nil {
		t.Errorf("a is %q allowing %v after failed confines, want not confined", iso, allows)
	}
	list, _ := root.List()
	for _, e := range list {
		if strings.HasPrefix(e.Name, "zz.") {
			t.Errorf("a failed confine left the group %s", e.Name)
		}
	}
}
