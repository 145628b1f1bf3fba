package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// confine --pid of a process that runs as root confines it, and warns
// on stderr that root can lift the confinement; of an unprivileged one
// (nobody) it does not warn. Either way the note on old connections is
// there and stdout is the JSON alone.
func TestConfinePIDWarnsOfRoot(t *testing.T) {
	env, _, _ := confineDB(t)
	tests := []struct {
		name     string
		cmd      *exec.Cmd
		wantWarn bool
	}{
		{"root", exec.Command("sleep", "60"), true},
		{"nobody", exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "60"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProc(t, tt.cmd)
			waitComm(t, p.cmd.Process.Pid, "sleep") // setpriv has dropped root
			r := cli(t, env, "confine", "--json", "a", "--pid", strconv.Itoa(p.cmd.Process.Pid))
			var c confinedJSON
			if err := json.Unmarshal([]byte(r.stdout), &c); r.code != 0 || err != nil {
				t.Fatalf("confine --pid of %s's process: %v (%v)", tt.name, r, err)
			}
			t.Cleanup(func() { confineFirewallRemove(c.CgroupID) })
			warned := strings.Contains(r.stderr, "runs as root, which can lift its own confinement")
			if warned != tt.wantWarn || !strings.Contains(r.stderr, "are not confined") {
				t.Errorf("confine --pid of %s's process: stderr %q, want the note on old connections and a root warning %v", tt.name, r.stderr, tt.wantWarn)
			}
			if out := mustCLI(t, env, "release", "--force", "--kill-after", "2s", "a"); out == "" {
				t.Errorf("release --force a printed nothing, want its alias")
			}
			mustCLI(t, env, "acquire", "--no-ifup", "a")
		})
	}
}

// waitComm waits until process pid runs the program named comm.
func waitComm(t *testing.T, pid int, comm string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil && strings.TrimSpace(string(b)) == comm {
			return
		}
	}
	t.Fatalf("process %d never ran %s", pid, comm)
}
