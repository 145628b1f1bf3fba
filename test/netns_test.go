package test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoopbackDownInNetns runs acquire in a fresh network namespace, where
// lo is down: binding 127.0.0.16 still works there, connecting does not,
// so acquire must exit 7 and leave no lease. With lo brought up first it
// succeeds. Every run warns that the host's listeners are not seen from
// there (contract: gc, listeners). Needs root (CI runs as root); skipped
// otherwise.
func TestLoopbackDownInNetns(t *testing.T) {
	if !isRoot() {
		t.Skip("needs root for unshare -n")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: %v", tool, err)
		}
	}
	db := filepath.Join(t.TempDir(), "leases.db")
	const warning = "aliaslease: warning: not in the host's network namespace: the host's listeners are not seen from here, so an alias something on the host is bound on may look free\n"
	run := func(script string) (string, string, int) {
		cmd := command("unshare", []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "ALIASLEASE_DOCKER=off"}, "-n", "sh", "-c", script, "sh", bin, db)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		r := finish(t, cmd)
		return out.String(), errb.String(), r.code
	}
	out, errs, code := run(`"$1" --db "$2" acquire a`)
	if code != 7 || out != "" || !strings.HasPrefix(errs, warning) || !strings.Contains(errs, "can be bound but not reached") || !strings.Contains(errs, "ip link set lo up") {
		t.Errorf("acquire with lo down: exit %d, %q, %q; want exit 7 saying loopback is down, after the warning", code, out, errs)
	}
	if list := mustCLI(t, []string{"ALIASLEASE_DOCKER=off"}, "--db", db, "list"); strings.Contains(list, "127.0.0.") {
		t.Errorf("a lease was left behind after exit 7:\n%s", list)
	}
	// --no-ifup records the lease and leaves the interface alone.
	out, errs, code = run(`"$1" --db "$2" acquire --no-ifup b && "$1" --db "$2" release b`)
	if code != 0 || out != "127.0.0.16\n127.0.0.16\n" || errs != warning {
		t.Errorf("acquire --no-ifup with lo down: exit %d, %q, %q; want the lease, and the warning", code, out, errs)
	}
	out, errs, code = run(`ip link set lo up && "$1" --db "$2" acquire a`)
	if code != 0 || out != "127.0.0.16\n" || errs != warning {
		t.Errorf("acquire with lo up: exit %d, %q, %q; want 127.0.0.16, and the warning", code, out, errs)
	}
}
