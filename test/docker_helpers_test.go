package test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Everything this run creates in Docker carries runID in its name, and
// the label aliaslease.test=runID, so that cleanup finds it all.
var runID = func() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "aliaslease-test-" + hex.EncodeToString(b)
}()

var (
	imageOnce sync.Once
	image     string
	imageErr  error
)

// engine is what the first look for a Docker engine found: the error
// when none answers, and the endpoint the docker CLI used.
var engine struct {
	once sync.Once
	err  error
	host string
}

// findEngine asks the docker CLI, which honours DOCKER_HOST and the
// current context, for the engine's API version and its endpoint.
func findEngine() (string, error) {
	engine.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput()
		if err != nil {
			engine.err = fmt.Errorf("no Docker engine answers (%v: %s); test/docker-up.sh starts one", err, strings.TrimSpace(string(out)))
			return
		}
		engine.host = os.Getenv("DOCKER_HOST")
		if engine.host == "" {
			out, err := exec.CommandContext(ctx, "docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}").Output()
			engine.host = strings.TrimSpace(string(out))
			if err != nil || engine.host == "" {
				engine.host = "unix:///var/run/docker.sock"
			}
		}
	})
	return engine.host, engine.err
}

// The suite's one probe for a real engine: needDocker for the tests that
// need one, dockerIfAny for those that run with or without one.

// dockerIfAny returns the environment that points aliaslease at the
// engine the docker CLI uses, and true, when one answers. When none does
// it fails the test if ALIASLEASE_TEST_DOCKER=1 says one must be there,
// and returns false.
func dockerIfAny(t *testing.T) ([]string, bool) {
	t.Helper()
	host, err := findEngine()
	if err != nil {
		if os.Getenv("ALIASLEASE_TEST_DOCKER") == "1" {
			t.Fatal(err)
		}
		return nil, false
	}
	env := []string{"DOCKER_HOST=" + host}
	for _, v := range []string{"DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"} {
		if s, ok := os.LookupEnv(v); ok {
			env = append(env, v+"="+s)
		}
	}
	return env, true
}

// needDocker returns what dockerIfAny does, and skips the test when no
// engine answers (or fails it under ALIASLEASE_TEST_DOCKER=1).
func needDocker(t *testing.T) []string {
	t.Helper()
	env, ok := dockerIfAny(t)
	if !ok {
		t.Skip(engine.err)
	}
	return env
}

// testPool is a block of loopback addresses that no container on the
// engine publishes on, for one test.
type testPool struct {
	first netip.Addr
	size  int
}

// spec is the pool as --pool takes it.
func (p testPool) spec() string { return p.first.String() + "-" + p.at(p.size-1) }

// at returns the pool's i-th address, lowest first.
func (p testPool) at(i int) string {
	if i < 0 || i >= p.size {
		panic(fmt.Sprintf("address %d of a pool of %d", i, p.size))
	}
	b := p.first.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

var (
	poolsMu    sync.Mutex
	poolsTaken = map[netip.Addr]bool{}
)

// freePool picks a block of size addresses (a power of two up to 256)
// inside 127.0.0.0/8, outside 127.0.0.0/24, on which no container of the
// engine, in any state, publishes a port, and which no other test of this
// run uses. Other containers on a shared engine then never shift what a
// test expects.
func freePool(t *testing.T, size int) testPool {
	t.Helper()
	if size < 1 || size > 256 || size&(size-1) != 0 {
		t.Fatalf("freePool(%d): want a power of two up to 256", size)
	}
	used := boundAddresses(t)
	poolsMu.Lock()
	defer poolsMu.Unlock()
	for range 1000 {
		var b [4]byte
		rand.Read(b[1:])
		b[0] = 127
		b[1] = 1 + b[1]%254 // never 127.0.x.x nor 127.255.x.x
		b[3] &^= byte(size - 1)
		first := netip.AddrFrom4(b)
		p := testPool{first: first, size: size}
		free := !poolsTaken[first]
		for i := range size {
			if used[p.at(i)] {
				free = false
			}
		}
		if free {
			poolsTaken[first] = true
			return p
		}
	}
	t.Fatal("no free block of loopback addresses found")
	return testPool{}
}

// boundAddresses returns every host IP that a container of the engine
// publishes on, or is configured to publish on when it runs.
func boundAddresses(t *testing.T) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	ids := strings.Fields(docker(t, "ps", "-aq"))
	if len(ids) == 0 {
		return used
	}
	const format = `{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}} {{end}}{{end}}` +
		`{{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{.HostIp}} {{end}}{{end}}`
	out, err := exec.Command("docker", append([]string{"inspect", "--format", format}, ids...)...).Output()
	if err != nil && len(out) == 0 {
		// A container removed between the two calls fails the inspect
		// of it alone; the others are still printed.
		t.Fatalf("docker inspect: %v", err)
	}
	for _, ip := range strings.Fields(string(out)) {
		used[ip] = true
	}
	return used
}

// testImage builds, once per run, a FROM scratch image around the static
// holder program compiled here.
func testImage(t *testing.T) string {
	t.Helper()
	needDocker(t)
	imageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aliaslease-image")
		if err != nil {
			imageErr = err
			return
		}
		defer os.RemoveAll(dir)
		if imageErr = goBuild(filepath.Join(dir, "holder"), "./testdata/holder/main.go", []string{"CGO_ENABLED=0", "GOOS=linux"}); imageErr != nil {
			return
		}
		df := "FROM scratch\nCOPY holder /holder\nENTRYPOINT [\"/holder\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			imageErr = err
			return
		}
		tag := runID + ":latest"
		if out, err := exec.Command("docker", "build", "-q", "--label", "aliaslease.test="+runID, "-t", tag, dir).CombinedOutput(); err != nil {
			imageErr = fmt.Errorf("docker build: %v\n%s", err, out)
			return
		}
		image = tag
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return image
}

// container describes one test container.
type container struct {
	name    string
	alias   string // host IP of its published port; "" for all addresses
	port    int    // host port; 0 for one the engine picks
	slug    string // aliaslease.slug label, if any
	state   string // "running" (default), "created" or "exited"
	noPorts bool
}

// start creates c and returns its full name; the test removes it at the end.
func start(t *testing.T, c container) string {
	t.Helper()
	img := testImage(t)
	name := runID + "-" + c.name
	args := []string{"create", "--name", name, "--label", "aliaslease.test=" + runID}
	if !c.noPorts {
		pub := "8080" // an ephemeral host port
		if c.port != 0 {
			pub = fmt.Sprintf("%d:8080", c.port)
		}
		if c.alias != "" {
			pub = c.alias + ":" + pub
			if c.port == 0 {
				pub = c.alias + "::8080"
			}
		}
		args = append(args, "-p", pub)
	}
	if c.slug != "" {
		args = append(args, "--label", "aliaslease.slug="+c.slug)
	}
	args = append(args, img)
	if c.state == "exited" {
		args = append(args, "exit")
	}
	docker(t, args...)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	switch c.state {
	case "", "running":
		docker(t, "start", name)
	case "exited":
		docker(t, "start", name)
		deadline := time.Now().Add(20 * time.Second)
		for strings.TrimSpace(docker(t, "inspect", "-f", "{{.State.Status}}", name)) != "exited" {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not exit", name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return name
}

func remove(t *testing.T, name string) {
	t.Helper()
	docker(t, "rm", "-f", name)
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cleanupDocker removes whatever this run left in Docker: containers
// first, then the image.
func cleanupDocker() {
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=aliaslease.test="+runID).Output()
	if err != nil {
		return
	}
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	for _, img := range []string{image, probeImage} {
		if img != "" {
			exec.Command("docker", "rmi", "-f", img).Run()
		}
	}
}
