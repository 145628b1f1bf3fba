//go:build linux

package confine

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

func TestCgroupPath(t *testing.T) {
	host := Root{Mount: "/sys/fs/cgroup", Dir: "/sys/fs/cgroup/aliaslease", mroot: "/"}
	user := Root{Mount: "/sys/fs/cgroup", Dir: "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/aliaslease", mroot: "/"}
	inNS := Root{Mount: "/sys/fs/cgroup", Dir: "/sys/fs/cgroup/aliaslease", mroot: "/ns"}
	tests := []struct {
		root Root
		arg  string
		want string // "" for refused
	}{
		{host, "/sys/fs/cgroup/system.slice/vm.service", "/system.slice/vm.service"},
		{host, "/system.slice/vm.service", "/system.slice/vm.service"},
		{host, "/sys/fs/cgroup/a//b/../c/", "/a/c"},
		{host, "/sys/fs/cgroup", ""},
		{host, "/", ""},
		{host, "/sys/fs/cgroup/aliaslease", ""},
		{host, "/aliaslease/run.1.0123456789abcdef", ""},
		{host, "/aliaslease2", "/aliaslease2"},
		{host, "system.slice/vm.service", ""},
		{host, "", ""},
		{user, "/user.slice", ""},
		{user, "/user.slice/user-1000.slice/session-3.scope", "/user.slice/user-1000.slice/session-3.scope"},
		{inNS, "/ns/bottle", "/bottle"},
		{inNS, "/other/bottle", ""},
		{inNS, "/sys/fs/cgroup/bottle", "/bottle"},
	}
	for _, tt := range tests {
		got, err := tt.root.CgroupPath(tt.arg)
		if got != tt.want || (err != nil) != (tt.want == "") || (err != nil && !errors.Is(err, ErrCgroupPath)) {
			t.Errorf("CgroupPath(%q) under %s = %q, %v; want %q", tt.arg, tt.root.Dir, got, err, tt.want)
		}
	}
}

func FuzzCgroupPath(f *testing.F) {
	for _, s := range []string{"/sys/fs/cgroup/x", "/x/../aliaslease", "/", "/sys/fs/cgroup/aliaslease/y", "//a"} {
		f.Add(s)
	}
	r := Root{Mount: "/sys/fs/cgroup", Dir: "/sys/fs/cgroup/aliaslease", mroot: "/"}
	f.Fuzz(func(t *testing.T, arg string) {
		got, err := r.CgroupPath(arg)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "/") || filepath.Clean(got) != got || got == "/" ||
			got == "/aliaslease" || strings.HasPrefix(got, "/aliaslease/") {
			t.Errorf("CgroupPath(%q) = %q: not a cgroup below the mount outside aliaslease's subtree", arg, got)
		}
	})
}

// cgroupState tells a cgroup by its id wherever it is: populated, empty,
// and gone (an id is never given again).
func TestCgroupState(t *testing.T) {
	requireRoot(t)
	mnt, _ := nftCgroup2Mount(t)
	cg := nftNewCgroup(t, nil)
	check := func(what string, wantExists, wantPop bool) {
		t.Helper()
		exists, pop, err := cgroupState(mnt, cg.id)
		if exists != wantExists || pop != wantPop || err != nil {
			t.Errorf("cgroupState of a cgroup %s = %v, %v, %v; want %v, %v", what, exists, pop, err, wantExists, wantPop)
		}
	}
	check("made", true, false)
	sleep := startIn(t, cg.dir)
	check("with a process", true, true)
	sleep.Process.Kill()
	sleep.Wait()
	removeDir(t, cg.dir)
	check("removed", false, false)
}

// startIn starts a sleep in the cgroup dir and kills it when the test ends.
func startIn(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	fd, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = cgroupAttr(int(fd.Fd()))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// removeDir removes an empty cgroup, waiting for the kernel to see its
// last process gone.
func removeDir(t *testing.T, dir string) {
	t.Helper()
	var err error
	for range 100 {
		if err = os.Remove(dir); err == nil {
			return
		}
		waitABit()
	}
	t.Fatalf("remove %s: %v", dir, err)
}

// confinedHolder is a holder of g confined to 127.0.0.17, its rules
// installed.
func confinedHolder(t *testing.T, name string, id uint64, level uint32) lease.ProcessHolder {
	t.Helper()
	ResolvConf = filepath.Join(t.TempDir(), "resolv.conf") // none: nothing more allowed
	t.Cleanup(func() { ResolvConf = "/etc/resolv.conf" })
	c, err := Plan(id, level, netip.MustParseAddr("127.0.0.17"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := RulesOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := HostFirewall().Install(r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { HostFirewall().Remove(id) })
	return lease.ProcessHolder{Slug: "s", Generation: 1, RunID: "r" + name, Kind: lease.TreeCgroup, Cgroup: name, Confined: &c}
}

// A confined group of aliaslease's own keeps its rules while a process
// is in it (restored only with Repair), and loses them, and the group,
// once it is empty.
func TestTreesConfinedGroup(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	r := findRoot(t)
	g := newGroup(t, r)
	h := confinedHolder(t, g.Name(), g.ID(), g.Level())
	sleep := startIn(t, g.Dir())
	fw := HostFirewall()
	if alive, err := (&Trees{}).Alive(h); !alive || err != nil || !nftPresent(t, g.ID()) {
		t.Fatalf("Alive of a populated confined group = %v, %v (rules present %v); want true, kept", alive, err, nftPresent(t, g.ID()))
	}
	fw.Remove(g.ID())
	if (&Trees{}).Alive(h); nftPresent(t, g.ID()) {
		t.Errorf("Alive without Repair restored the rules")
	}
	if (&Trees{Repair: true}).Alive(h); !nftPresent(t, g.ID()) {
		t.Errorf("Alive with Repair did not restore the rules of a live tree")
	}
	sleep.Process.Kill()
	sleep.Wait()
	for range 100 {
		if alive, _ := (&Trees{Repair: true}).Alive(h); !alive {
			break
		}
		waitABit()
	}
	if nftPresent(t, g.ID()) {
		t.Errorf("Alive of an empty confined group left its rules")
	}
	if _, err := os.Stat(g.Dir()); !os.IsNotExist(err) {
		t.Errorf("Alive of an empty confined group left the group: %v", err)
	}
}

// A confined cgroup someone else made holds while it exists, empty or
// not, and is never removed: End ends its processes, then its rules, and
// from then on it counts as gone; one removed and made again at its path
// is another cgroup, and the rules of the first go.
func TestTreesConfinedForeign(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	r := findRoot(t)
	cg := nftNewCgroup(t, nil)
	rel, err := r.CgroupPath(cg.dir)
	if err != nil {
		t.Fatal(err)
	}
	h := confinedHolder(t, rel, cg.id, cg.level)
	h.Confined.Level = cg.level
	tr := &Trees{Repair: true}
	if alive, err := tr.Alive(h); !alive || err != nil {
		t.Errorf("Alive of an empty confined cgroup someone made = %v, %v; want true", alive, err)
	}
	sleep := startIn(t, cg.dir)
	if err := tr.End(t.Context(), h, 0); err != nil {
		t.Fatalf("End = %v", err)
	}
	if err := sleep.Wait(); err == nil {
		t.Errorf("End left the cgroup's process running")
	}
	if _, err := os.Stat(cg.dir); err != nil || nftPresent(t, cg.id) {
		t.Errorf("after End the cgroup: %v, rules present %v; want it kept, its rules gone", err, nftPresent(t, cg.id))
	}
	if alive, _ := tr.Alive(h); alive {
		t.Errorf("Alive after End = true, want the ended tree gone")
	}
	h = confinedHolder(t, rel, cg.id, cg.level)
	removeDir(t, cg.dir)
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if alive, err := (&Trees{}).Alive(h); alive || err != nil || nftPresent(t, cg.id) {
		t.Errorf("Alive of a cgroup made again at the path = %v, %v (old rules present %v); want gone, rules removed", alive, err, nftPresent(t, cg.id))
	}
}

func nftPresent(t *testing.T, id uint64) bool {
	t.Helper()
	ok, err := HostFirewall().Present(id)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func cgroupAttr(fd int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
}

func waitABit() { time.Sleep(20 * time.Millisecond) }
