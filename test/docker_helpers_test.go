package test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// needDocker skips the test when no engine answers, or fails it when
// ALIASLEASE_TEST_DOCKER=1 says one must.
func needDocker(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("no Docker engine answers (%v: %s); test/docker-up.sh starts one", err, strings.TrimSpace(string(out)))
	if os.Getenv("ALIASLEASE_TEST_DOCKER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
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
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "holder"), "./testdata/holder/main.go")
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := build.CombinedOutput(); err != nil {
			imageErr = fmt.Errorf("building holder: %v\n%s", err, out)
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
	port    int    // host port
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
		pub := fmt.Sprintf("%d:8080", c.port)
		if c.alias != "" {
			pub = c.alias + ":" + pub
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
	if image != "" {
		exec.Command("docker", "rmi", "-f", image).Run()
	}
}
