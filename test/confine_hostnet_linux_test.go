package test

import (
	"fmt"
	"net/netip"
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

// hostnetRecipe is the command docs/isolation.md gives (Launchers) for a
// Docker container run with --network host, read from there, with the
// binary ($BIN), the container ($NAME) and the slug ($SLUG) put in for
// the doc's aliaslease and bottle-7.
func hostnetRecipe(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(string(readFile(t, "../docs/isolation.md")), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "aliaslease confine bottle-7 --cgroup ") {
			continue
		}
		r := strings.NewReplacer("aliaslease confine bottle-7 ", `"$BIN" confine "$SLUG" `, "'{{.State.Pid}}' bottle-7)", `'{{.State.Pid}}' "$NAME")`)
		if cmd := r.Replace(line); !strings.Contains(cmd, "bottle-7") {
			return cmd
		}
		t.Fatalf("the recipe %q names bottle-7 where the test cannot tell what it is", line)
	}
	t.Fatal("docs/isolation.md has no line aliaslease confine bottle-7 --cgroup ...")
	return ""
}

// reachImage builds a FROM scratch image around the static reach program
// (its entry point), removed when the test ends.
func reachImage(t *testing.T) string {
	t.Helper()
	needDocker(t)
	dir := t.TempDir()
	if err := goBuild(filepath.Join(dir, "reach"), "./testdata/reach", []string{"CGO_ENABLED=0", "GOOS=linux"}); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nCOPY reach /reach\nENTRYPOINT [\"/reach\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := runID + "-reach:latest"
	docker(t, "build", "-q", "--label", "aliaslease.test="+runID, "-t", tag, dir)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// hostnetContainer creates and starts a --network host container of img
// as user nobody (65534) whose command only sleeps (it listens on
// nothing: the host's ports are the container's), and returns its name
// and its process's pid; it is removed when the test ends.
func hostnetContainer(t *testing.T, img, name string) (string, int) {
	t.Helper()
	full := runID + "-" + name
	docker(t, "create", "--name", full, "--label", "aliaslease.test="+runID, "--network", "host",
		"--user", "65534:65534", img, "main", "sleep:10m")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", full).Run() })
	docker(t, "start", full)
	pid, err := strconv.Atoi(strings.TrimSpace(docker(t, "inspect", "-f", "{{.State.Pid}}", full)))
	if err != nil || pid <= 0 {
		t.Fatalf("docker inspect %s: pid %d, %v", full, pid, err)
	}
	return full, pid
}

// groupPids is every process of the cgroup directory dir and below it.
func groupPids(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			n, _ := strconv.Atoi(f)
			pids = append(pids, n)
		}
		return err
	})
	if err != nil {
		t.Fatalf("the processes of cgroup %s: %v", dir, err)
	}
	return pids
}

// The --network host recipe of docs/isolation.md, as written there, on a real
// engine: the cgroup it names is the container's own (its process alone
// in it); confining it leaves the container's processes (docker exec'd
// ones too, as nobody) reaching their own alias, TCP and UDP, and refused
// on another pool alias that has a listener, while the host outside
// reaches both. Once the container is removed, its cgroup is gone and gc
// removes the rules. Where the engine gives the container no cgroup v2
// group of its own, confine must refuse the recipe's group (exit 2): the
// test checks that and skips the rest, saying so.
func TestConfineHostNetworkContainer(t *testing.T) {
	e := newConfineEnv(t)
	img := reachImage(t)
	own, other := e.acquire(t, "own"), e.acquire(t, "other")
	ownSrv, otherSrv := serve(t, own, 0, false), serve(t, other, 0, false)
	name, pid := hostnetContainer(t, img, "hostnet")
	recipe := hostnetRecipe(t)
	cmd := exec.Command("sh", "-c", recipe)
	cmd.Env = append(append(os.Environ(), e.env...), "BIN="+e.bin, "SLUG=own", "NAME="+name)
	rel, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	path, _, _ := strings.Cut(strings.SplitN(string(rel), "0::", 2)[1], "\n")
	dir := filepath.Join(e.root.Mount, path)
	if pids := groupPids(t, dir); path == "/" || !slices.Equal(pids, []int{pid}) {
		r := finish(t, cmd)
		if r.code != 2 || !strings.Contains(r.stderr, "cannot be confined") && !strings.Contains(r.stderr, "not a bottle's") {
			t.Fatalf("the recipe on %s, which holds %v besides the container's pid %d: %v, want exit 2, refused", path, pids, pid, r)
		}
		t.Skipf("this engine gives a --network host container no cgroup v2 group of its own (%s holds %v): confine refused it, as it must; the recipe's rest does not apply here", path, pids)
	}
	r := finish(t, cmd)
	if r.code != 0 || strings.TrimSpace(r.stdout) != path {
		t.Fatalf("the recipe (%s): %v, want exit 0 printing %s", recipe, r, path)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := fi.Sys().(*syscall.Stat_t).Ino
	t.Cleanup(func() { confineFirewallRemove(id) })
	if !present(t, id) {
		t.Fatalf("confine printed %s, but the rules of its cgroup %d are not in place", path, id)
	}
	probe := func(tag string) map[string]string {
		t.Helper()
		out := docker(t, "exec", name, "/reach", tag, "id", ownSrv.item("tcp", netip.Addr{}), ownSrv.item("udp", netip.Addr{}),
			otherSrv.item("tcp", netip.Addr{}), otherSrv.item("udp", netip.Addr{}))
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.SplitN(line, " ", 3); len(f) == 3 {
				got[f[1]] = f[2]
			}
		}
		return got
	}
	in := probe("inside")
	if !strings.HasPrefix(in["id"], "uid=65534 ") {
		t.Errorf("docker exec runs as %q, want uid 65534 (the container's --user)", in["id"])
	}
	for _, tc := range []struct {
		srv   *server
		proto string
		want  string
		host  bool // the listener receives the tag
	}{
		{ownSrv, "tcp", "ok", true},
		{ownSrv, "udp", "ok", true},
		{otherSrv, "tcp", "refused", false},
		{otherSrv, "udp", "eperm", false},
	} {
		item := tc.srv.item(tc.proto, netip.Addr{})
		if got, reached := in[item], tc.srv.waitReached(tc.proto, "inside"); got != tc.want || reached != tc.host {
			t.Errorf("confined container, %s: %q, listener reached %v; want %q, reached %v", item, got, reached, tc.want, tc.host)
		}
	}
	items := []string{ownSrv.item("tcp", netip.Addr{}), otherSrv.item("tcp", netip.Addr{}), ownSrv.item("udp", netip.Addr{}), otherSrv.item("udp", netip.Addr{})}
	for item, got := range e.outside(t, "outside", items) {
		if got != "ok" {
			t.Errorf("the host outside the container, %s: %q, want ok", item, got)
		}
	}
	for _, s := range []*server{ownSrv, otherSrv} {
		if !s.waitReached("tcp", "outside") || !s.waitReached("udp", "outside") {
			t.Errorf("the host outside did not reach %v, TCP and UDP", s.addr)
		}
	}
	remove(t, name)
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(dir); err == nil && time.Now().Before(deadline); _, err = os.Stat(dir) {
		time.Sleep(50 * time.Millisecond) // the engine removes it
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		removeCgroup(dir)
		t.Fatalf("the removed container's cgroup %s is still there (%v)", dir, err)
	}
	for mustCLI(t, e.env, "gc"); present(t, id) && time.Now().Before(deadline); mustCLI(t, e.env, "gc") {
		time.Sleep(100 * time.Millisecond)
	}
	if present(t, id) {
		t.Errorf("gc left the rules of the removed container's cgroup %d", id)
	}
}

// sleeperIn starts reach, copied to the name exe, sleeping in the cgroup
// directory dir from its first instruction; it is killed when the test
// ends.
func (e *confineEnv) sleeperIn(t *testing.T, dir, exe string) {
	t.Helper()
	b, err := os.ReadFile(e.reach)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), exe)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	cmd := exec.Command(path, "main", "sleep:10m")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// confine --cgroup refuses a cgroup that holds, in it or below, what is
// plainly no bottle's: a container engine's process (what the
// --network host recipe names where the engine gives a container no
// cgroup v2 group of its own: the shim's or dockerd's) and the shell
// that runs confine. Exit 2, one error line naming the process and one
// hint, nothing on stdout, no rules, the lease not confined. A cgroup
// holding only a plain process is confined as before.
func TestConfineRefusesWhatIsNotABottle(t *testing.T) {
	e := newConfineEnv(t)
	e.acquire(t, "own")
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, dir string) *exec.Cmd
		code   int
		stderr string
	}{
		{"a containerd shim below it", func(t *testing.T, dir string) *exec.Cmd {
			sub := filepath.Join(dir, "shim")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { removeCgroup(sub) }) // before the parent: cleanups run last first
			e.sleeperIn(t, sub, "containerd-shim-runc-v2")
			return command(e.bin, e.env, "confine", "own", "--cgroup", dir)
		}, 2, "(a container engine's, containerd-shim-runc-v2); nothing confined\n"},
		{"dockerd in it", func(t *testing.T, dir string) *exec.Cmd {
			e.sleeperIn(t, dir, "dockerd")
			return command(e.bin, e.env, "confine", "own", "--cgroup", dir)
		}, 2, "(a container engine's, dockerd); nothing confined\n"},
		{"the shell that runs confine", func(t *testing.T, dir string) *exec.Cmd {
			return command("sh", append(e.env, "BIN="+e.bin, "DIR="+dir),
				"-c", `echo $$ > "$DIR/cgroup.procs" && "$BIN" confine own --cgroup "$DIR"`)
		}, 2, "(what started this confine, "},
		{"a plain process", func(t *testing.T, dir string) *exec.Cmd {
			e.sleeperIn(t, dir, "vmm")
			return command(e.bin, e.env, "confine", "own", "--cgroup", dir)
		}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := foreignCgroup(t)
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			id := fi.Sys().(*syscall.Stat_t).Ino
			t.Cleanup(func() { confineFirewallRemove(id); e.cli(t, "confine", "--release", "own") })
			r := finish(t, tc.setup(t, dir))
			if tc.code == 0 {
				if r.code != 0 || !present(t, id) {
					t.Fatalf("confine of a cgroup holding a plain process: %v, rules present %v; want it confined", r, present(t, id))
				}
				return
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if r.code != tc.code || r.stdout != "" || !strings.Contains(r.stderr, tc.stderr) || len(lines) != 2 ||
				!strings.HasPrefix(lines[0], "aliaslease: error: --cgroup: cgroup ") || !strings.HasPrefix(lines[1], "aliaslease: hint: ") {
				t.Errorf("confine of a cgroup holding %s: %v, want exit %d, one error line saying %q and one hint", tc.name, r, tc.code, tc.stderr)
			}
			if present(t, id) {
				t.Errorf("confine of a cgroup holding %s left its rules in place", tc.name)
			}
			if iso, allows := shownAllows(t, e.env, "own"); iso == "confined" || allows != nil {
				t.Errorf("own is %q allowing %v after a refused confine, want not confined", iso, allows)
			}
		})
	}
}
