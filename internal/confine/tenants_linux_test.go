//go:build linux

package confine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestTenantKind(t *testing.T) {
	ancestors := map[int]bool{4242: true, 4243: true}
	tests := []struct {
		pid  int
		exe  string
		want string // a prefix; "" for a process that may be a bottle's
	}{
		{1, "systemd", "the host's init"},
		{1, "", "the host's init"},
		{300, "dockerd", "a container engine's, dockerd"},
		{300, "containerd", "a container engine's"},
		{300, "containerd-shim-runc-v2", "a container engine's"},
		{300, "containerd-shim", "a container engine's"},
		{300, "conmon", "a container engine's"},
		{4242, "bash", "what started this confine, bash"},
		{4243, "sudo", "what started this confine"},
		{300, "qemu-system-x86_64", ""},
		{300, "dockerd-rootless.sh", ""},
		{300, "", ""},
		{2, "kthreadd", ""},
	}
	for _, tt := range tests {
		got := tenantKind(tt.pid, tt.exe, ancestors)
		if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
			t.Errorf("tenantKind(%d, %q) = %q, want %q", tt.pid, tt.exe, got, tt.want)
		}
	}
}

// CheckTenants reads the processes of a real cgroup and of the cgroups
// below it: an empty cgroup and one holding a plain process pass; a
// process named dockerd in a cgroup below is found and named.
func TestCheckTenants(t *testing.T) {
	r := findRoot(t)
	cg := nftNewCgroup(t, nil)
	rel, ok := cutDir(cg.dir, r.Mount)
	if !ok {
		t.Fatalf("cgroup %s is not under %s", cg.dir, r.Mount)
	}
	if err := r.CheckTenants(rel); err != nil {
		t.Errorf("CheckTenants(%s), empty = %v, want nil", rel, err)
	}
	startIn(t, cg.dir)
	if err := r.CheckTenants(rel); err != nil {
		t.Errorf("CheckTenants(%s) holding a sleep = %v, want nil", rel, err)
	}
	below := nftNewCgroup(t, &cg)
	cmd := startNamed(t, below.dir, "dockerd")
	err := r.CheckTenants(rel)
	want := fmt.Sprintf("pid %d (a container engine's, dockerd)", cmd.Process.Pid)
	if !errors.Is(err, ErrNotBottle) || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckTenants(%s) with dockerd below = %v, want ErrNotBottle naming %q", rel, err, want)
	}
	if err := r.CheckTenants(rel + "-none"); err == nil || errors.Is(err, ErrNotBottle) {
		t.Errorf("CheckTenants of a cgroup that does not exist = %v, want an error that is not ErrNotBottle", err)
	}
}

// startNamed starts, in the cgroup at dir, a copy of sleep named name
// (a stand-in of an engine's process), killed when the test ends.
func startNamed(t *testing.T, dir, name string) *exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary to copy")
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	cmd := exec.Command(exe, "60")
	cmd.SysProcAttr = cgroupAttr(int(fd.Fd()))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// A threaded cgroup (a VMM's vCPU threads, as libvirt places them) has no
// cgroup.procs to read; its threads are judged by their processes: a VM's
// cgroup passes, a thread of a stand-in dockerd there is named, once.
func TestCheckTenantsThreaded(t *testing.T) {
	r := findRoot(t)
	for _, tc := range []struct {
		exe  string
		want string // "" for none
	}{
		{"qemu-system-x86_64", ""},
		{"dockerd", "a container engine's, dockerd"},
	} {
		t.Run(tc.exe, func(t *testing.T) {
			cg := nftNewCgroup(t, nil)
			vcpu := nftNewCgroup(t, &cg)
			if err := os.WriteFile(filepath.Join(vcpu.dir, "cgroup.type"), []byte("threaded"), 0); err != nil {
				t.Skipf("no threaded cgroups here: %v", err)
			}
			cmd := startNamed(t, cg.dir, tc.exe)
			tid := []byte(fmt.Sprint(cmd.Process.Pid))
			if err := os.WriteFile(filepath.Join(vcpu.dir, "cgroup.threads"), tid, 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // before the cgroups go
			rel, _ := cutDir(cg.dir, r.Mount)
			for _, rel := range []string{rel, rel + "/" + filepath.Base(vcpu.dir)} {
				err := r.CheckTenants(rel)
				named := fmt.Sprintf("pid %d (%s)", cmd.Process.Pid, tc.want)
				switch {
				case tc.want == "" && err != nil:
					t.Errorf("CheckTenants(%s) = %v, want nil", rel, err)
				case tc.want != "" && (!errors.Is(err, ErrNotBottle) || strings.Count(err.Error(), named) != 1):
					t.Errorf("CheckTenants(%s) = %v, want ErrNotBottle naming %q once", rel, err, named)
				}
			}
		})
	}
}

// A bottle that makes and removes cgroups of its own all the time (a
// launcher's per-task groups) is judged, not refused: a child cgroup
// removed while it is read (ENOENT, or ENODEV once open) is none.
func TestCheckTenantsChurn(t *testing.T) {
	r := findRoot(t)
	cg := nftNewCgroup(t, nil)
	rel, _ := cutDir(cg.dir, r.Mount)
	startIn(t, cg.dir)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			d := filepath.Join(cg.dir, fmt.Sprint("task", i%4))
			os.Mkdir(d, 0o755)
			os.Mkdir(filepath.Join(d, "sub"), 0o755)
			os.Remove(filepath.Join(d, "sub"))
			os.Remove(d)
		}
	}()
	defer func() { stop.Store(true); <-done }()
	for range 3000 {
		if err := r.CheckTenants(rel); err != nil {
			t.Fatalf("CheckTenants(%s) while its children come and go = %v, want nil", rel, err)
		}
	}
}
