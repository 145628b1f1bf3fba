//go:build linux

package confine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// nftUnprivileged is the role of a user who is not root: what each method
// returns, "permission" when the error is os.ErrPermission.
func nftUnprivileged() map[string]string {
	f := HostFirewall()
	say := func(err error) string {
		switch {
		case err == nil:
			return "nil"
		case errors.Is(err, os.ErrPermission):
			return "permission"
		}
		return err.Error()
	}
	r := Rules{CgroupID: 1, Level: 1, Alias: netip.MustParseAddr("127.0.0.17"), Deny: loopbackTargets}
	_, present := f.Present(1)
	_, list := f.List()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, watch := f.Watch(ctx, func() {})
	return map[string]string{
		"Install": say(f.Install(r)),
		"Remove":  say(f.Remove(1)),
		"Present": say(present),
		"List":    say(list),
		"Watch":   say(watch),
	}
}

func TestNftNotRootFailsClosed(t *testing.T) {
	nftNeedRoot(t)
	// The test binary, where user nobody can run it.
	dir, err := os.MkdirTemp("", "aliaslease-nfttest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "confine.test")
	if err := nftCopyFile(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := nftHelper("unprivileged", "")
	cmd.Path, cmd.Args[0] = bin, bin
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("as nobody: %q: %v", out, err)
	}
	for _, m := range []string{"Install", "Remove", "Present", "List", "Watch"} {
		if got[m] != "permission" {
			t.Errorf("as nobody, %s = %s, want an error that is os.ErrPermission", m, got[m])
		}
	}
}

func nftCopyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
