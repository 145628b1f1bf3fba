package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// leased says whether list shows a lease of slug.
func (e *confineEnv) leased(t *testing.T, slug string) bool {
	t.Helper()
	r := e.cli(t, "list", "--json")
	var rows []struct {
		Slug *string `json:"slug"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("list --json: %v (%v)", err, r)
	}
	return slices.ContainsFunc(rows, func(rw struct {
		Slug *string `json:"slug"`
	}) bool {
		return rw.Slug != nil && *rw.Slug == slug
	})
}

// groupsOf lists the cgroups of slug's runs in aliaslease's subtree.
func (e *confineEnv) groupsOf(t *testing.T, slug string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(e.root.Dir, slug+".*"))
	return m
}

// A command that would run as root is refused (exit 2), as are the
// confinement's flags without --confine and a bad --confine-allow; CMD
// never runs and no lease is made.
func TestRunConfineRefusesRoot(t *testing.T) {
	e := newConfineEnv(t)
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"--user root", nil, []string{"--confine", "--user", "root"}, "uid 0"},
		{"--user 0", nil, []string{"--confine", "--user", "0"}, "uid 0"},
		{"no user: root without sudo", nil, []string{"--confine"}, "--user NAME"},
		{"the sudo caller is root", []string{"SUDO_UID=0", "SUDO_USER=root"}, []string{"--confine"}, "uid 0"},
		{"--user without --confine", nil, []string{"--user", "nobody"}, "--user needs --confine"},
		{"--confine-allow without --confine", nil, []string{"--confine-allow", "127.0.0.1:80"}, "--confine-allow needs --confine"},
		{"--confine-allow port 0", nil, []string{"--confine", "--user", "nobody", "--confine-allow", "127.0.0.1:0"}, "port 0"},
		{"--confine-allow not ADDR:PORT", nil, []string{"--confine", "--user", "nobody", "--confine-allow", "localhost:53"}, "not ADDR:PORT"},
		{"--user unknown", nil, []string{"--confine", "--user", "no-such-user-here"}, "no such user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run", "--no-ifup"}, tt.args...), "r", "--", "sh", "-c", "echo ran")
			r := runBin(t, e.bin, append(slices.Clone(e.env), tt.env...), args...)
			if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("run %s: %v; want exit 2, stdout empty, stderr naming %q", strings.Join(tt.args, " "), r, tt.want)
			}
			if e.leased(t, "r") {
				t.Errorf("run %s: a lease of r was made", strings.Join(tt.args, " "))
			}
		})
	}
}

// Where a part of the confinement is missing, run --confine fails closed:
// exit 9, the missing part named, CMD never run, no lease, rule or
// cgroup left. No cgroup2 is had in a private mount namespace without
// its mounts; root without CAP_NET_ADMIN makes the cgroup but cannot
// load rules; as nobody, neither cgroups nor nftables can be set up.
func TestRunConfineFailsClosed(t *testing.T) {
	e := newConfineEnv(t)
	confined := []string{"run", "--no-ifup", "--confine", "--user", "nobody", "f", "--", "sh", "-c", "echo ran"}
	t.Run("no cgroup2", func(t *testing.T) {
		// In a private mount namespace (Unshareflags: Go makes / private
		// there first), every cgroup2 mount is lazily unmounted.
		unmount := `for m in $(grep -w cgroup2 /proc/self/mountinfo | awk '{print $5}'); do umount -l "$m" || exit 1; done; exec "$@"`
		cmd := command("sh", e.env, append([]string{"-c", unmount, "sh", e.bin}, confined...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		r := finish(t, cmd)
		if r.code != 9 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "no cgroup v2") {
			t.Errorf("run --confine without cgroup2: %v; want exit 9 naming the cgroup, CMD not run", r)
		}
	})
	t.Run("nftables refused", func(t *testing.T) {
		// Root without CAP_NET_ADMIN: its cgroup is made, then nftables
		// refuses it; the cgroup must go again.
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("no setpriv(1) to drop CAP_NET_ADMIN")
		}
		r := runBin(t, "setpriv", e.env, append([]string{"--bounding-set=-net_admin", "--inh-caps=-net_admin", e.bin}, confined...)...)
		if r.code != 9 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "nftables") {
			t.Errorf("run --confine without CAP_NET_ADMIN: %v; want exit 9 naming nftables, CMD not run", r)
		}
	})
	t.Run("as nobody", func(t *testing.T) {
		dir := nobodyDir(t)
		env := append(slices.Clone(e.env), "ALIASLEASE_DB="+filepath.Join(dir, "db", "leases.db"))
		cmd := command(e.bin, env, confined...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: racerUID, Gid: racerUID}}
		r := finish(t, cmd)
		if r.code != 9 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "not root") {
			t.Errorf("run --confine as nobody: %v; want exit 9 saying it is not root, CMD not run", r)
		}
		if _, err := os.Stat(filepath.Join(dir, "db", "leases.db")); err == nil {
			t.Errorf("run --confine as nobody made a database")
		}
	})
	if e.leased(t, "f") {
		t.Errorf("a lease of f is left")
	}
	if g := e.groupsOf(t, "f"); len(g) > 0 {
		t.Errorf("cgroups left: %v", g)
	}
}

// A wrapper SIGKILLed while confined leaves its tree's rules in place
// while any process of the tree lives (its command dies with it; a
// setsid grandchild lives on), so the tree is never unconfined, gc among
// them; once the tree is gone, gc removes the rules, the cgroup and the
// holder.
func TestRunConfineWrapperKilled(t *testing.T) {
	e := newConfineEnv(t)
	cr := e.start(t, nil, "k", `( setsid "$R" gc id sleep:60s & ); "$R" main id; exec sleep 60`)
	got := cr.results(t, []string{key("main", "id"), key("gc", "id")}, 30*time.Second)
	dir, id := e.cgroupOf(t, got[key("gc", "id")])
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				break
			}
		}
		if err := confineFirewallRemove(id); err != nil {
			t.Errorf("remove the rules of cgroup %d: %v", id, err)
		}
	})
	cr.p.cmd.Process.Kill()
	cr.p.result()
	for i := range 10 {
		if present, complete := firewallHas(t, id); !present || !complete {
			t.Fatalf("after the wrapper was killed, under a live tree: rules of cgroup %d present %v, complete %v", id, present, complete)
		}
		procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil || len(strings.Fields(string(procs))) == 0 {
			t.Fatalf("the tree's cgroup is empty (%v): the grandchild did not live on", err)
		}
		if i == 5 {
			if r := e.cli(t, "gc"); r.code != 0 {
				t.Fatalf("gc under the live tree: %v", r)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	// Ended as gc judges it: "populated 0" in cgroup.events, not an
	// empty cgroup.procs (a run under load once found the rules kept by
	// a gc right after cgroup.procs had emptied).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		events, _ := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if strings.Contains(string(events), "populated 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tree did not end after cgroup.kill")
		}
	}
	if r := e.cli(t, "gc"); r.code != 0 {
		t.Fatalf("gc after the tree ended: %v", r)
	}
	if present, _ := firewallHas(t, id); present {
		t.Errorf("after the tree ended, gc left the rules of cgroup %d", id)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after the tree ended, gc left its cgroup %s (%v)", dir, err)
	}
	if r := e.cli(t, "inspect", "--json", "k"); r.code != 0 || strings.Contains(r.stdout, "confined cgroup") || strings.Contains(r.stdout, `"confinements"`) {
		t.Errorf("after gc, inspect k still shows the ended tree or its confinement: %v", r)
	}
}

// confine --release of a live run --confine lifts its confinement for
// good: the wrapper, which restores rules removed under its tree, sees
// that the record went first and leaves them removed.
func TestRunConfineReleaseIsNotUndone(t *testing.T) {
	e := newConfineEnv(t)
	cr := e.start(t, nil, "lift", `"$R" main id; exec sleep 60`)
	got := cr.results(t, []string{key("main", "id")}, 30*time.Second)
	_, id := e.cgroupOf(t, got[key("main", "id")])
	if present, complete := firewallHas(t, id); !present || !complete {
		t.Fatalf("rules of cgroup %d present %v, complete %v; want them whole under the live run", id, present, complete)
	}
	if r := e.cli(t, "confine", "--release", "lift"); r.code != 0 {
		t.Fatalf("confine --release lift: %v", r)
	}
	for range 10 { // the wrapper restores within milliseconds when it does
		time.Sleep(50 * time.Millisecond)
		if present, _ := firewallHas(t, id); present {
			t.Fatalf("after confine --release, the rules of cgroup %d are back: the wrapper undid the operator's lift; wrapper stderr %q", id, cr.errText())
		}
	}
	if !strings.Contains(cr.errText(), "lifted") {
		t.Errorf("wrapper stderr %q, want a note that the confinement was lifted", cr.errText())
	}
	cr.end(t)
}
