package test

import (
	"bufio"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// bindOn starts a process that is not aliaslease (python3) holding a
// socket bound on addr until the test ends: a TCP socket listening, or a
// UDP socket bound. It returns the port.
func bindOn(t *testing.T, proto, addr string) string {
	t.Helper()
	const script = `import socket, sys, time
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.bind((sys.argv[2], 0))
if sys.argv[1] == "tcp":
    s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(600)
`
	return pythonPort(t, "the "+proto+" socket on "+addr, script, proto, addr)
}

// pythonPort runs script (python3) with args until the test ends and
// returns the first line it prints, the port of the socket it made; what
// names that socket in the failure when none is printed.
func pythonPort(t *testing.T, what, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command("python3", append([]string{"-c", script}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("python3: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("%s did not start: %v", what, err)
	}
	return strings.TrimSpace(line)
}

// hostPool is freePool where an engine may be absent (without one, no
// container can publish on any block).
func hostPool(t *testing.T, size int) testPool {
	t.Helper()
	if _, ok := dockerIfAny(t); ok {
		return freePool(t, size)
	}
	poolsMu.Lock()
	defer poolsMu.Unlock()
	for {
		n := rand.Uint32()
		first := netip.AddrFrom4([4]byte{127, byte(1 + n%254), byte(n >> 8), byte(n>>16) &^ byte(size-1)})
		if !poolsTaken[first] {
			poolsTaken[first] = true
			return testPool{first: first, size: size}
		}
	}
}

// TestListenerHolds: a process that is not a container, bound on the
// lowest pool alias (TCP listening, and separately UDP bound), holds it:
// acquire skips it under --docker on, off, and auto with no engine, and
// list shows it as a foreign holder named by protocol, address and port
// (contract: Words, holder, listener).
func TestListenerHolds(t *testing.T) {
	modes := []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"off", func(*testing.T) []string { return []string{"ALIASLEASE_DOCKER=off"} }},
		{"auto, no engine", func(*testing.T) []string {
			return []string{"ALIASLEASE_DOCKER=auto", "DOCKER_HOST=unix:///nonexistent/docker.sock"}
		}},
		{"on", func(t *testing.T) []string { return append(needDocker(t), "ALIASLEASE_DOCKER=on") }},
	}
	for _, proto := range []string{"tcp", "udp"} {
		t.Run(proto, func(t *testing.T) {
			p := hostPool(t, 4)
			port := bindOn(t, proto, p.at(0))
			for _, mode := range modes {
				t.Run(mode.name, func(t *testing.T) {
					env := append(mode.env(t), "ALIASLEASE_DB="+t.TempDir()+"/leases.db", "ALIASLEASE_POOL="+p.spec())
					if got := strings.TrimSpace(mustCLI(t, env, "acquire", "x")); got != p.at(1) {
						t.Errorf("acquire(%q) with a %s listener on %s = %s, want %s", "x", proto, p.at(0), got, p.at(1))
					}
					r := listJSON(t, env)[p.at(0)]
					want := proto + " " + p.at(0) + ":" + port + " (pid "
					if r.State != "foreign" || len(r.Holders) != 1 || !strings.HasPrefix(r.Holders[0].Name, want) || !strings.HasSuffix(r.Holders[0].Name, " python3)") {
						t.Errorf("list row of %s = %+v, want foreign, held by %q... python3)", p.at(0), r, want)
					}
				})
			}
		})
	}
}

// TestGCOffByListeners: with --docker off, gc reclaims a dead bottle's
// lease by the holders it can see and keeps one a listener holds, saying
// on stderr that Docker was not consulted only when it reclaimed
// something (contract: gc).
func TestGCOffByListeners(t *testing.T) {
	p := hostPool(t, 4)
	env := []string{"ALIASLEASE_DOCKER=off", "ALIASLEASE_DB=" + t.TempDir() + "/leases.db", "ALIASLEASE_POOL=" + p.spec()}
	for i, slug := range []string{"dead", "alive"} {
		if got := strings.TrimSpace(mustCLI(t, env, "acquire", "--no-ifup", slug)); got != p.at(i) {
			t.Fatalf("acquire(%q) = %s, want %s", slug, got, p.at(i))
		}
	}
	bindOn(t, "tcp", p.at(1))
	const note = "aliaslease: warning: docker is off: reclaimed by the host's listeners and process holders alone\n"
	var reclaimed []string
	for i := 0; i < 12 && len(reclaimed) == 0; i++ {
		time.Sleep(400 * time.Millisecond)
		r := cli(t, env, "gc", "--grace", "1s")
		switch {
		case r.code != 0:
			t.Fatalf("gc --docker off: %v", r)
		case r.stdout == "" && r.stderr != "":
			t.Errorf("gc that reclaimed nothing wrote %q to stderr: cron would mail it", r.stderr)
		case r.stdout != "":
			reclaimed = strings.Split(strings.TrimSpace(r.stdout), "\n")
			if r.stderr != note {
				t.Errorf("gc that reclaimed by listeners alone wrote %q to stderr, want %q", r.stderr, note)
			}
		}
	}
	if want := "dead " + p.at(0) + " no-holder"; len(reclaimed) != 1 || reclaimed[0] != want {
		t.Fatalf("gc --docker off reclaimed %q, want %q alone", reclaimed, want)
	}
	if r := listJSON(t, env)[p.at(1)]; r.Slug == nil || *r.Slug != "alive" || r.State != "live" {
		t.Errorf("list row of %s = %+v, want alive, live: a listener holds it", p.at(1), r)
	}
}
