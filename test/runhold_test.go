package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	listenerOnce sync.Once
	listenerBin  string
	listenerErr  error
)

// listener builds, once per run, the program in testdata/listener.
func listener(t *testing.T) string {
	t.Helper()
	listenerOnce.Do(func() {
		listenerBin = filepath.Join(filepath.Dir(bin), "listener")
		listenerErr = goBuild(listenerBin, "./testdata/listener/main.go", nil)
	})
	if listenerErr != nil {
		t.Fatal(listenerErr)
	}
	return listenerBin
}

// procState is the state letter of /proc/PID/stat ('R', 'S', 'Z', ...),
// or 0 when there is no such process.
func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// alive says whether pid runs: it exists and is not a zombie, which has
// ended and only waits for its parent to collect its status.
func alive(pid int) bool {
	s := procState(pid)
	return s != 0 && s != 'Z'
}

// wrapped is an "aliaslease run" whose command is the listener.
type wrapped struct {
	wrapper *proc
	addr    string // where the command listens
	pid     int    // the command's PID
}

// runListener starts "aliaslease run SLUG -- listener ARGS..." and waits
// until the command listens and the lease records it as its holder.
func runListener(t *testing.T, env []string, slug string, args ...string) wrapped {
	t.Helper()
	// Files, not buffers or StdoutPipe: the command may outlive the
	// wrapper and keep its ends open, and the wait for the wrapper must
	// not wait for it, nor close what is still to be read.
	out, stdout, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := command(bin, env, append([]string{"run", slug, "--", listener(t)}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	p := startProc(t, cmd)
	stdout.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	var w wrapped
	if f := strings.Fields(line); len(f) == 3 && f[0] == "ready" {
		w.addr = f[1]
		w.pid, _ = strconv.Atoi(f[2])
	}
	if w.pid == 0 {
		b, _ := os.ReadFile(stderr.Name())
		t.Fatalf("run %s: first line %q (%v), want ready HOST:PORT PID; stderr %q", slug, line, err, b)
	}
	w.wrapper = p
	t.Cleanup(func() {
		if alive(w.pid) {
			syscall.Kill(w.pid, syscall.SIGKILL)
		}
	})
	// The wrapper records the command's tree as the lease's holder just
	// after starting it: wait for the record before killing anything.
	for deadline := time.Now().Add(10 * time.Second); ; {
		r := listJSON(t, env)
		held := false
		for _, h := range r[strings.Split(w.addr, ":")[0]].Holders {
			held = held || strings.HasPrefix(h.Name, "cgroup ") || strings.HasPrefix(h.Name, "process group ")
		}
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lease of %s never showed its command %d as a holder: %+v", slug, w.pid, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return w
}

// kill SIGKILLs the wrapper and waits for it.
func (w wrapped) kill(t *testing.T) {
	t.Helper()
	if err := w.wrapper.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.wrapper.result()
}

// TestRunKilledWrapperOrphan: a command that outlives its SIGKILLed
// wrapper (it cleared its parent-death signal, as a command on macOS has
// none) keeps its alias: gc --grace 0s reclaims nothing and another slug
// gets another alias while it runs. Once it is dead, the lease is stale.
func TestRunKilledWrapperOrphan(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	_, env, p := dockerEnv(t)
	w := runListener(t, env, "s", "-orphan")
	if host := strings.Split(w.addr, ":")[0]; host != p.at(0) {
		t.Fatalf("the command of run s listens on %s, want ALIASLEASE_ALIAS %s", host, p.at(0))
	}
	w.kill(t)
	time.Sleep(200 * time.Millisecond)
	if !alive(w.pid) {
		t.Fatalf("the command %d died with its wrapper although it cleared its parent-death signal", w.pid)
	}
	if c, err := net.DialTimeout("tcp", w.addr, time.Second); err != nil {
		t.Fatalf("the orphaned command does not answer on %s: %v", w.addr, err)
	} else {
		c.Close()
	}
	if out := mustCLI(t, env, "gc", "--grace", "0s"); out != "" {
		t.Errorf("gc --grace 0s with the command %d running printed %q, want nothing", w.pid, out)
	}
	wantAlias(t, env, "other", p.at(1))
	if r := listJSON(t, env)[p.at(0)]; r.Slug == nil || *r.Slug != "s" || r.State != "live" {
		t.Errorf("list row of %s = %+v, want s, live", p.at(0), r)
	}
	mustCLI(t, env, "release", "other")

	// The command dies. Its parent is gone, so it is now the business of
	// whatever reaps orphans here: it may stay a zombie, which has ended
	// all the same.
	if err := syscall.Kill(w.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); alive(w.pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the command %d still runs after SIGKILL", w.pid)
		}
	}
	if out, want := mustCLI(t, env, "gc", "--grace", "0s"), "s "+p.at(0)+" no-holder\n"; out != want {
		t.Errorf("gc --grace 0s after the command %d ended (state %q) printed %q, want %q", w.pid, procState(w.pid), out, want)
	}
	wantAlias(t, env, "later", p.at(0))
}

// TestRunKilledWrapperParentDeath: on Linux the command of a SIGKILLed
// wrapper dies with it (parent-death signal), within a second; no other
// slug gets its alias while it still runs.
func TestRunKilledWrapperParentDeath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	_, env, p := dockerEnv(t)
	w := runListener(t, env, "s")
	killed := time.Now()
	w.kill(t)
	died := make(chan time.Duration, 1)
	go func() {
		for alive(w.pid) && time.Since(killed) < 10*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		died <- time.Since(killed)
	}()
	// Race gc and acquire against the command's death: whenever another
	// slug gets the alias, the command must be gone by then.
	got := ""
	for i := 0; got != p.at(0) && time.Since(killed) < 2*time.Second; i++ {
		mustCLI(t, env, "gc", "--grace", "0s")
		slug := fmt.Sprintf("other-%d", i)
		got = strings.TrimSpace(mustCLI(t, env, "acquire", slug))
		if got == p.at(0) && alive(w.pid) {
			t.Errorf("acquire(%q) = %s while the command %d of s still runs there", slug, got, w.pid)
		}
		mustCLI(t, env, "release", slug)
	}
	if took := <-died; alive(w.pid) || took > time.Second {
		t.Fatalf("the command %d of the SIGKILLed wrapper still ran %v later", w.pid, took)
	} else {
		t.Logf("the command died %v after its wrapper (state now %q)", took, procState(w.pid))
	}
	if c, err := net.DialTimeout("tcp", w.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("something still answers on %s after the command died", w.addr)
	}
	t.Logf("another slug got %s after the command died: %v", p.at(0), got == p.at(0))
}

// TestRunRenewsWhileItRuns: run renews the lease it holds every quarter
// of its grace while its command runs (other users' databases see the
// tree only through the lease's claim, kept fresh so), and stops when
// the command ends.
func TestRunRenewsWhileItRuns(t *testing.T) {
	p := freePool(t, 4)
	env := []string{"ALIASLEASE_DB=" + filepath.Join(t.TempDir(), "leases.db"), "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=" + p.spec()}
	mustCLI(t, env, "run", "--no-ifup", "--keep", "--grace", "4s", "r", "--", "sleep", "3.5")
	renewals := func() int {
		var events []struct {
			Event string `json:"event"`
		}
		if err := json.Unmarshal([]byte(mustCLI(t, env, "log", "--json", "-n", "0", "--slug", "r")), &events); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.Event == "renew" {
				n++
			}
		}
		return n
	}
	n := renewals()
	if n < 2 || n > 3 {
		t.Errorf("run --grace 4s of a 3.5 s command renewed its lease %d times, want 3 (every second; 2 on a loaded machine)", n)
	}
	time.Sleep(1500 * time.Millisecond)
	if after := renewals(); after != n {
		t.Errorf("after the command ended, the lease was renewed %d times more: the renewing did not stop", after-n)
	}
}
