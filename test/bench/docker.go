package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Everything the bench creates in Docker carries this label (containers
// and the image), and containers are named with prefix, so that cleanup
// finds them all and nothing else.
const (
	benchLabel = "aliaslease.bench=1"
	prefix     = "claude-bottle-sidecars-bench-"
	imageTag   = "aliaslease-bench:latest"
)

// rawList is one list call over the socket from this process: the floor
// Docker sets, without any process start.
func rawList() sample {
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", *sock)
	}}}
	start := time.Now()
	resp, err := c.Get("http://docker/v1.41/containers/json?all=1")
	if err != nil {
		fatalf("in-process list: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return sample{wall: time.Since(start)}
}

func must(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// goBuild builds a static binary of pkg into out as the README installs
// aliaslease: CGO_ENABLED=0, -tags urfave_cli_no_docs; then settles it.
func goBuild(out, pkg string) {
	built := out + ".built"
	cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", built, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	settle(built, out)
	os.Remove(built)
}

// settle copies the binary from to to, then drops the copy's pages from
// the page cache, so that the first (untimed) run reads it from disk, as
// a binary installed before the last boot is read: how a binary's pages
// came into the cache changes what every exec of it costs
// (test/bench/README.md).
func settle(from, to string) {
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o755)
	}
	if err == nil {
		err = evict(to)
	}
	if err != nil {
		fatalf("settling %s: %v", from, err)
	}
}

// buildImage builds the bundle image FROM scratch around the static
// holder binary of the tests (no image can be pulled here).
func buildImage(tmp string) {
	dir := filepath.Join(tmp, "image")
	os.MkdirAll(dir, 0o700)
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "holder"), "./test/testdata/holder/main.go")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		fatalf("build holder: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY holder /holder\nENTRYPOINT [\"/holder\"]\n"), 0o644)
	must("docker", "build", "-q", "--label", benchLabel, "-t", imageTag, dir)
}

// benchContainers returns the indices of the bench's bundle containers.
func benchContainers() map[int]bool {
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label="+benchLabel, "--format", "{{.Names}}").Output()
	if err != nil {
		fatalf("docker ps: %v", err)
	}
	have := map[int]bool{}
	for _, n := range strings.Fields(string(out)) {
		if i, err := strconv.Atoi(strings.TrimPrefix(n, prefix)); err == nil {
			have[i] = true
		}
	}
	return have
}

// ensureK brings the bundle containers to exactly k, numbered 0..k-1:
// container i publishes three ports on its own alias 127.0.1.(i+1),
// outside the default pool, so that every allocator answers 127.0.0.16
// whatever k is and does the same work; it is labelled
// aliaslease.slug=bench-i like a launcher's bundle.
func ensureK(k int) {
	have := benchContainers()
	var add, del []int
	for i := range k {
		if !have[i] {
			add = append(add, i)
		}
	}
	for i := range have {
		if i >= k {
			del = append(del, i)
		}
	}
	if len(add) == 0 && len(del) == 0 {
		return
	}
	logf("containers: %d -> %d", len(have), k)
	if len(del) > 0 {
		args := []string{"rm", "-f"}
		for _, i := range del {
			args = append(args, fmt.Sprintf("%s%d", prefix, i))
		}
		must("docker", args...)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, i := range add {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			alias := fmt.Sprintf("127.0.1.%d", i+1)
			must("docker", "run", "-d", "--name", fmt.Sprintf("%s%d", prefix, i),
				"--label", benchLabel, "--label", fmt.Sprintf("aliaslease.slug=bench-%d", i),
				"-p", alias+":18080:8080", "-p", alias+":18081:8081", "-p", alias+":18082:8082", imageTag)
		}()
	}
	wg.Wait()
	// Let the engine settle after a batch of starts.
	time.Sleep(2 * time.Second)
}

// cleanup removes every container and image the bench created.
func cleanup() {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+benchLabel).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	out, _ = exec.Command("docker", "images", "-q", "--filter", "label="+benchLabel).Output()
	ids := strings.Fields(string(out))
	exec.Command("docker", append([]string{"rmi", "-f", imageTag}, ids...)...).Run()
}

// engineContainers is how many containers the engine lists now (all
// states): the bench's K plus whatever else runs on this engine.
func engineContainers() int {
	s := run(cmdSpec{argv: []string{floorBin, *sock}, capture: true})
	n, _ := strconv.Atoi(strings.TrimSpace(s.out))
	return n
}
