package test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Issue #21: every holder's alias set comes from its own bindings, read
// whole, against the real engine.

// TestStoppedLabelledContainerReadWhole: a created container labelled
// for a leased slug holds what its bindings name, not what its slug has
// leased, so no one else is handed that alias and starting it makes no
// conflict.
func TestStoppedLabelledContainerReadWhole(t *testing.T) {
	_, env, p := dockerEnv(t)
	wantAlias(t, env, "x", p.at(0))
	c := start(t, container{name: "x-elsewhere", alias: p.at(1), port: 18090, slug: "x", state: "created"})
	wantAlias(t, env, "y", p.at(2))
	docker(t, "start", c)
	for alias, r := range listJSON(t, env) {
		if r.State == "conflict" {
			t.Errorf("list row of %s = %+v after x's container started, want no conflict", alias, r)
		}
	}
	if r := listJSON(t, env)[p.at(1)]; r.State != "foreign" || len(r.Holders) != 1 {
		t.Errorf("list row of %s = %+v, want foreign, held by x's container", p.at(1), r)
	}
}

// slowDocker is a proxy in front of the real engine that holds the
// inspect of one container until released, and says when it arrives.
type slowDocker struct {
	host    string        // unix:// address of the proxy
	arrived chan struct{} // closed when the held inspect arrives
	release chan struct{} // close to let it through
}

func newSlowDocker(t *testing.T, engine, holdID string) *slowDocker {
	t.Helper()
	sock := strings.TrimPrefix(engine, "unix://")
	if sock == engine {
		t.Skipf("the proxy needs a unix:// engine, not %s", engine)
	}
	dir, err := os.MkdirTemp("", "al-slow")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("unix", filepath.Join(dir, "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	s := &slowDocker{host: "unix://" + l.Addr().String(), arrived: make(chan struct{}), release: make(chan struct{})}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
	}
	var once sync.Once
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/containers/"+holdID+"/json") {
			once.Do(func() { close(s.arrived) })
			<-s.release
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		srv.Close()
	})
	return s
}

// TestReleaseDuringInventory: A is released while B's inventory is under
// way (held at the inspect of another container); B still sees the
// alias that A's exited container binds as held, and never gets it.
func TestReleaseDuringInventory(t *testing.T) {
	db, env, p := dockerEnv(t)
	wantAlias(t, env, "a", p.at(0))
	start(t, container{name: "a-exited", alias: p.at(0), port: 18091, slug: "a", state: "exited"})
	other := start(t, container{name: "other-exited", alias: p.at(5), port: 18092, state: "exited"})
	id := strings.TrimSpace(docker(t, "inspect", "-f", "{{.Id}}", other))
	host, _ := findEngine()
	slow := newSlowDocker(t, host, id)
	slowEnv := []string{"DOCKER_HOST=" + slow.host, "ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=on", "ALIASLEASE_POOL=" + p.spec()}
	b := startCLI(t, slowEnv, "--docker-timeout", "20s", "acquire", "b")
	select {
	case <-slow.arrived:
	case <-time.After(15 * time.Second):
		t.Fatal("acquire b never inspected the other container")
	}
	mustCLI(t, env, "--docker", "off", "release", "a")
	close(slow.release)
	r, _ := b.wait(t, 20*time.Second)
	if got := strings.TrimSpace(r.stdout); r.code != 0 || got == p.at(0) {
		t.Errorf("acquire(%q) with a released meanwhile = %v, want exit 0 and not %s, which a's exited container binds", "b", r, p.at(0))
	}
}

// TestHeldLockDuringInventory: an operator's flock on the lock file while
// acquire asks Docker is waited for under --lock-timeout, never under
// --docker-timeout: exit 0 (or 5), never exit 4.
func TestHeldLockDuringInventory(t *testing.T) {
	db, env, p := dockerEnv(t)
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock(1)")
	}
	wantAlias(t, env, "a", p.at(0))
	start(t, container{name: "lock-a-exited", alias: p.at(0), port: 18093, slug: "a", state: "exited"})
	hold := exec.Command("flock", "-x", db+".lock", "sleep", "2")
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer hold.Wait()
	time.Sleep(300 * time.Millisecond) // let flock take the lock
	r := cli(t, env, "--docker-timeout", "1s", "--lock-timeout", "20s", "acquire", "b")
	if r.code != 0 && r.code != 5 || r.code == 0 && strings.TrimSpace(r.stdout) != p.at(1) {
		t.Errorf("acquire(%q) while an operator holds the lock 2s = %v, want %s (or exit 5), never exit 4", "b", r, p.at(1))
	}
}

// network creates a bridge network whose host_binding_ipv4 is ip, removed
// at the end of the test.
func network(t *testing.T, ip string) string {
	t.Helper()
	name := fmt.Sprintf("%s-net-%s", runID, strings.ReplaceAll(ip, ".", "-"))
	docker(t, "network", "create", "--label", "aliaslease.test="+runID, "-o", "com.docker.network.bridge.host_binding_ipv4="+ip, name)
	t.Cleanup(func() { exec.Command("docker", "network", "rm", name).Run() })
	return name
}

// createOn creates a container of the test image on network net with the
// extra arguments, started (and so running) when run is set.
func createOn(t *testing.T, name, net string, run bool, extra ...string) string {
	t.Helper()
	name = runID + "-" + name
	args := append([]string{"create", "--name", name, "--label", "aliaslease.test=" + runID, "--network", net}, extra...)
	docker(t, append(args, testImage(t))...)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	if run {
		docker(t, "start", name)
	}
	return name
}

// TestNetworkDefaultHostIP: a binding without a host IP on a network
// whose host_binding_ipv4 names an alias holds that alias, stopped too,
// so gc never reclaims the lease under it.
func TestNetworkDefaultHostIP(t *testing.T) {
	_, env, p := dockerEnv(t)
	wantAlias(t, env, "x", p.at(0))
	createOn(t, "x-default-ip", network(t, p.at(0)), false, "-p", "18094:8080")
	if out := mustCLI(t, env, "gc", "--grace", "0s"); out != "" {
		t.Errorf("gc --grace 0s with a created container publishing on %s (its network's default) printed %q, want nothing", p.at(0), out)
	}
	if r := listJSON(t, env)[p.at(0)]; r.State != "live" || len(r.Holders) != 1 {
		t.Errorf("list row of %s = %+v, want x live, held by the created container", p.at(0), r)
	}
}

// TestDisconnectedContainerHolds: a running container disconnected from
// its network lists no ports, and still holds what it binds again when
// reconnected.
func TestDisconnectedContainerHolds(t *testing.T) {
	_, env, p := dockerEnv(t)
	wantAlias(t, env, "x", p.at(0))
	net := network(t, p.at(8))
	c := createOn(t, "disconnected", net, true, "-p", p.at(1)+":18095:8080")
	docker(t, "network", "disconnect", net, c)
	wantAlias(t, env, "y", p.at(2))
	docker(t, "network", "connect", net, c)
	if r := listJSON(t, env)[p.at(1)]; r.State != "foreign" || len(r.Holders) != 1 {
		t.Errorf("list row of %s = %+v once reconnected, want foreign, held by %s", p.at(1), r, c)
	}
}

// TestDockerConfigNeverBlocks: a FIFO as $DOCKER_CONFIG/config.json is
// refused at once (exit 8), never waited on; as root, a docker config
// tree of another user (sudo keeping HOME) is refused, not followed.
func TestDockerConfigNeverBlocks(t *testing.T) {
	needDocker(t)
	p := freePool(t, 16)
	host, _ := findEngine()
	fifoDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoDir, "config.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, config, want string
		root               bool
	}{
		{name: "fifo", config: fifoDir, want: "not a regular file (a named pipe)"},
		{name: "another user's tree", config: writeContext(t, "theirs", host), want: "owned by uid 65534", root: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				if !isRoot() {
					t.Skip("needs root")
				}
				filepath.Walk(tt.config, func(path string, _ os.FileInfo, err error) error {
					if err == nil {
						err = os.Lchown(path, 65534, 65534)
					}
					return err
				})
			}
			env := []string{"DOCKER_CONFIG=" + tt.config, "ALIASLEASE_DB=" + filepath.Join(t.TempDir(), "leases.db"), "ALIASLEASE_DOCKER=on", "ALIASLEASE_POOL=" + p.spec()}
			r, _ := startCLI(t, env, "acquire", "a").wait(t, 10*time.Second)
			if r.code != 8 || r.stdout != "" || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, tt.config) {
				t.Errorf("acquire with DOCKER_CONFIG %s: %v, want exit 8 naming the file and saying %q", tt.name, r, tt.want)
			}
		})
	}
}
