package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	probeImageOnce sync.Once
	probeImage     string
	probeImageErr  error
)

// verifyImage builds, once per run, a FROM scratch image holding the
// holder program (its entry point, to keep a container running) and the
// aliaslease binary built static, at /aliaslease, as a bottle would have
// it. cleanupDocker removes the image at the end of the run.
func verifyImage(t *testing.T) string {
	t.Helper()
	needDocker(t)
	probeImageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aliaslease-probe-image")
		if err != nil {
			probeImageErr = err
			return
		}
		defer os.RemoveAll(dir)
		static := []string{"CGO_ENABLED=0", "GOOS=linux"}
		if probeImageErr = goBuild(filepath.Join(dir, "holder"), "./testdata/holder/main.go", static); probeImageErr != nil {
			return
		}
		if probeImageErr = goBuild(filepath.Join(dir, "aliaslease"), "../cmd/aliaslease", static, "-tags", "urfave_cli_no_docs"); probeImageErr != nil {
			return
		}
		df := "FROM scratch\nCOPY holder /holder\nCOPY aliaslease /aliaslease\nENTRYPOINT [\"/holder\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			probeImageErr = err
			return
		}
		tag := runID + "-probe:latest"
		if out, err := exec.Command("docker", "build", "-q", "--label", "aliaslease.test="+runID, "-t", tag, dir).CombinedOutput(); err != nil {
			probeImageErr = fmt.Errorf("docker build: %v\n%s", err, out)
			return
		}
		probeImage = tag
	})
	if probeImageErr != nil {
		t.Fatal(probeImageErr)
	}
	return probeImage // cleanupDocker removes it
}

// probeContainer runs a container of the probe image with the docker run
// options given and returns its name; it is removed when the test ends.
func probeContainer(t *testing.T, name string, opts ...string) string {
	t.Helper()
	img := verifyImage(t)
	full := runID + "-" + name
	args := append([]string{"run", "-d", "--name", full, "--label", "aliaslease.test=" + runID}, opts...)
	docker(t, append(args, img)...)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", full).Run() })
	deadline := time.Now().Add(20 * time.Second)
	for docker(t, "inspect", "-f", "{{.State.Running}}", full) != "true\n" {
		if time.Now().After(deadline) {
			t.Fatalf("%s is not running", full)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return full
}

// A --network host container shares the host's network: probed through
// docker exec, it reaches every canary, and verify names them.
func TestVerifyHostNetworkContainerIsLeaky(t *testing.T) {
	env := verifyEnv(t)
	ctr := probeContainer(t, "verify-host", "--network", "host")
	mustCLI(t, env, "acquire", "a")
	mustCLI(t, env, "acquire", "b")
	v := verifyRun(t, env, "a", "--", "docker", "exec", ctr, "/aliaslease")
	if v.Verdict != "leaky" {
		t.Fatalf("verify a -- docker exec (host network) = %q, want leaky", v.Verdict)
	}
	for _, want := range []string{"own alias", "next free alias", "alias of b", "127.0.0.1"} {
		if !slices.Contains(v.reached(), want) {
			t.Errorf("verify reached %v, want %q among them", v.reached(), want)
		}
	}
	if got := listIsolation(t, env, "a"); got != "leaky" {
		t.Errorf("list: %q, want leaky", got)
	}
}

// A container on Docker's default bridge network has a loopback of its
// own: without --via, none of the loopback canaries is reached, but the
// host's bridge address is (unless the host firewalls it), and verify
// says so: leaky, naming that canary alone.
func TestVerifyBridgeContainerReachesTheBridgeAddress(t *testing.T) {
	env := verifyEnv(t)
	ctr := probeContainer(t, "verify-bridge")
	mustCLI(t, env, "acquire", "a")
	v := verifyRun(t, env, "a", "--", "docker", "exec", ctr, "/aliaslease")
	var bridge string
	for _, c := range v.Canaries {
		if len(c.Name) > 7 && c.Name[:7] == "bridge " {
			bridge = c.Name
		}
	}
	if bridge == "" {
		t.Fatalf("verify opened no bridge canary (%+v); Docker's bridge should be one", v.Canaries)
	}
	switch {
	case v.Verdict == "cut-off" && len(v.reached()) == 0:
		t.Skipf("the host firewalls its bridge address %s from containers: cut-off, which is the truth here", bridge)
	case v.Verdict != "leaky" || !slices.Equal(v.reached(), []string{bridge}):
		t.Errorf("verify a -- docker exec (bridge) = %q reaching %v, want leaky reaching only %q", v.Verdict, v.reached(), bridge)
	}
	if got := listIsolation(t, env, "a"); got != v.Verdict {
		t.Errorf("list: %q, want %q", got, v.Verdict)
	}
}
