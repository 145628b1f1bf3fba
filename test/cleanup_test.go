package test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aliaslease/aliaslease/internal/confine"
)

// TestCleanupLeftovers: cleanup removes the leftovers of an interrupted
// creation of the database (a dry run only names them), never the lock
// file and never the database (#27).
func TestCleanupLeftovers(t *testing.T) {
	p := hostPool(t, 4)
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DOCKER=off", "ALIASLEASE_DB=" + db, "ALIASLEASE_POOL=" + p.spec()}
	mustCLI(t, env, "acquire", "--no-ifup", "a")
	left := filepath.Join(filepath.Dir(db), ".leases.db.creating-12345")
	if err := os.WriteFile(left, []byte("half a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, env, "cleanup", "--dry-run"); !strings.Contains(out, "would remove leftover "+left+"\n") {
		t.Errorf("cleanup --dry-run printed %q, want the leftover named", out)
	}
	if _, err := os.Stat(left); err != nil {
		t.Fatalf("cleanup --dry-run removed the leftover: %v", err)
	}
	if out := mustCLI(t, env, "cleanup"); !strings.Contains(out, "removed leftover "+left+"\n") {
		t.Errorf("cleanup printed %q, want the leftover removed", out)
	}
	for path, want := range map[string]bool{left: false, db: true, db + ".lock": true} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("after cleanup, %s exists = %v, want %v", path, err == nil, want)
		}
	}
	if got := strings.TrimSpace(mustCLI(t, env, "list", "-q")); got != "a" {
		t.Errorf("leases after cleanup = %q, want a", got)
	}
}

// TestCleanupRules: cleanup removes the firewall rules of a cgroup that
// is gone, keeps those of a populated cgroup until it is empty, and never
// removes a cgroup younger than a minute (a run starting); as root, on the
// host's table of aliaslease's own (the rules match no socket: their
// cgroups hold none, or only a sleep).
func TestCleanupRules(t *testing.T) {
	if !isRoot() {
		t.Skip("the firewall needs root")
	}
	root, err := confine.Find()
	if err != nil {
		t.Fatalf("confine.Find() = %v", err)
	}
	p := hostPool(t, 4)
	fw := confine.HostFirewall()
	install := func(id uint64, level uint32) {
		t.Helper()
		r := confine.Rules{CgroupID: id, Level: level, Alias: netip.MustParseAddr(p.at(0)), Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		if err := fw.Install(r); err != nil {
			t.Fatalf("Install(%d) = %v", id, err)
		}
		t.Cleanup(func() { fw.Remove(id) })
	}
	name, _ := confine.RunName("cleanup-"+strings.ReplaceAll(p.at(0), ".", "-"), 1)
	g, err := root.New(name)
	if err != nil {
		t.Fatalf("New(%q) = %v", name, err)
	}
	t.Cleanup(func() { g.Kill(); g.Remove(); g.Close() })
	sleep := exec.Command("sleep", "60")
	if err := g.Attach(sleep); err != nil {
		t.Fatal(err)
	}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	const goneID = 1<<62 + 12345 // no cgroup has it
	install(goneID, g.Level())
	install(g.ID(), g.Level())
	env := []string{"ALIASLEASE_DOCKER=off", "ALIASLEASE_DB=" + filepath.Join(t.TempDir(), "leases.db")}
	out := mustCLI(t, env, "cleanup")
	if !strings.Contains(out, "removed the firewall rules of cgroup "+strconv.FormatUint(goneID, 10)+"\n") ||
		strings.Contains(out, strconv.FormatUint(g.ID(), 10)) || strings.Contains(out, name) {
		t.Errorf("cleanup printed %q, want the gone cgroup's rules removed, the populated one's kept", out)
	}
	if ok, err := fw.Present(g.ID()); !ok || err != nil {
		t.Errorf("Present(%d) of a populated cgroup after cleanup = %v, %v; want its rules kept", g.ID(), ok, err)
	}
	sleep.Process.Kill()
	sleep.Wait()
	out = mustCLI(t, env, "cleanup")
	if !strings.Contains(out, "removed the firewall rules of cgroup "+strconv.FormatUint(g.ID(), 10)+"\n") || strings.Contains(out, name) {
		t.Errorf("cleanup with the cgroup empty printed %q, want its rules removed and the young cgroup kept", out)
	}
	if _, err := os.Stat(g.Dir()); err != nil {
		t.Errorf("cleanup removed a cgroup under a minute old: %v", err)
	}
	// With no group left, cleanup removes the subtree itself (a concurrent
	// suite's groups may keep it: then it must not say it did).
	g.Remove()
	out = mustCLI(t, env, "cleanup")
	_, err = os.Stat(root.Dir)
	if said := strings.Contains(out, "removed the cgroup subtree "+root.Dir+"\n"); said != os.IsNotExist(err) {
		t.Errorf("cleanup printed %q; the subtree %s is there: %v", out, root.Dir, err)
	}
}
