//go:build linux

package confine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary to copy")
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	engine := filepath.Join(t.TempDir(), "dockerd")
	if err := os.WriteFile(engine, b, 0o755); err != nil {
		t.Fatal(err)
	}
	below := nftNewCgroup(t, &cg)
	fd, err := os.Open(below.dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(engine, "60")
	cmd.SysProcAttr = cgroupAttr(int(fd.Fd()))
	err = cmd.Start()
	fd.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	err = r.CheckTenants(rel)
	want := fmt.Sprintf("pid %d (a container engine's, dockerd)", cmd.Process.Pid)
	if !errors.Is(err, ErrNotBottle) || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckTenants(%s) with dockerd below = %v, want ErrNotBottle naming %q", rel, err, want)
	}
	if err := r.CheckTenants(rel + "-none"); err == nil || errors.Is(err, ErrNotBottle) {
		t.Errorf("CheckTenants of a cgroup that does not exist = %v, want an error that is not ErrNotBottle", err)
	}
}
