// Command bench measures aliaslease side by side with the docker-CLI
// allocator it replaces and with the floor Docker itself sets, on a real
// engine. It is run by "make bench" (see docs/benchmarks.md), not by the
// tests.
//
// Every measured command is a separate process, timed from fork to exit;
// within one iteration the commands run in a shuffled order, so that the
// machine's noise falls on all of them alike, and medians are reported.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

var (
	runs    = flag.Int("runs", 21, "iterations per measurement")
	ksFlag  = flag.String("k", "0,14,60", "numbers of bundle containers")
	outDir  = flag.String("out", "docs/bench", "where to write results.md, results.csv and the plot")
	binFlag = flag.String("bin", "", "aliaslease binary (default: build one)")
	sock    = "/var/run/docker.sock"
)

const prefix = "claude-bottle-sidecars-bench-"

type sample struct {
	wall  time.Duration
	maxKB int64
	code  int
}

type series struct {
	name    string
	samples []sample
}

func (s *series) median() time.Duration {
	ds := make([]time.Duration, len(s.samples))
	for i, x := range s.samples {
		ds[i] = x.wall
	}
	slices.Sort(ds)
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)/2]
}

func (s *series) peakKB() int64 {
	var m int64
	for _, x := range s.samples {
		m = max(m, x.maxKB)
	}
	return m
}

func run(env []string, name string, args ...string) sample {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	start := time.Now()
	err := cmd.Run()
	s := sample{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.maxKB = ru.Maxrss
	}
	if err != nil {
		s.code = cmd.ProcessState.ExitCode()
		if s.code != 3 {
			log.Printf("%s %v: %v %s", name, args, err, errb.String())
		}
	}
	return s
}

// rawList is one list call over the socket from this process: the floor
// Docker sets, without any process start.
func rawList() sample {
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	start := time.Now()
	resp, err := c.Get("http://docker/v1.41/containers/json?all=1")
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return sample{wall: time.Since(start)}
}

func must(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		log.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func buildImage(tmp string) string {
	holder := filepath.Join(tmp, "holder")
	cmd := exec.Command("go", "build", "-o", holder, "./test/testdata/holder/main.go")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		log.Fatalf("build holder: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(tmp, "Dockerfile"), []byte("FROM scratch\nCOPY holder /holder\nENTRYPOINT [\"/holder\"]\n"), 0o644)
	tag := "aliaslease-bench:latest"
	must("docker", "build", "-q", "-t", tag, tmp)
	return tag
}

// startBundles brings the bundle containers up to k: each publishes three
// ports on its own alias, 127.0.1.N, outside the pool both allocators use,
// so both do the same work and answer 127.0.0.16.
func startBundles(img string, have, k int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := have; i < k; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			alias := fmt.Sprintf("127.0.1.%d", i+1)
			must("docker", "run", "-d", "--name", fmt.Sprintf("%s%d", prefix, i),
				"--label", "aliaslease.bench=1", "--label", fmt.Sprintf("aliaslease.slug=bench-%d", i),
				"-p", alias+":18080:8080", "-p", alias+":18081:8081", "-p", alias+":18082:8082", img)
		}()
	}
	wg.Wait()
}

func cleanup() {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=aliaslease.bench=1").Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	exec.Command("docker", "rmi", "-f", "aliaslease-bench:latest").Run()
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	tmp, err := os.MkdirTemp("", "aliaslease-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	bin := *binFlag
	if bin == "" {
		// Built as the README installs it: statically (CGO_ENABLED=0),
		// which starts about 1 ms sooner than a binary linked to libc.
		bin = filepath.Join(tmp, "aliaslease")
		build := exec.Command("go", "build", "-o", bin, "./cmd/aliaslease")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			log.Fatalf("build: %v\n%s", err, out)
		}
	}
	cleanup()
	defer cleanup()
	img := buildImage(tmp)
	var ks []int
	for _, f := range strings.Split(*ksFlag, ",") {
		k, err := strconv.Atoi(f)
		if err != nil {
			log.Fatal(err)
		}
		ks = append(ks, k)
	}
	engine := must("docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})")
	var md, csv strings.Builder
	fmt.Fprintf(&md, "Engine %s; %s; %d runs per figure, medians in ms; peak RSS in MiB.\n\n", engine, cpuInfo(), *runs)
	fmt.Fprintln(&md, "| K | aliaslease acquire (Docker on) | docker-CLI approach | raw list (curl) | raw list (in-process) | acquire, Docker off | `aliaslease --version` | CLI approach / acquire | acquire − curl list |")
	fmt.Fprintln(&md, "|---|---|---|---|---|---|---|---|---|")
	fmt.Fprintln(&csv, "k,acquire_on_ms,docker_cli_ms,raw_list_curl_ms,raw_list_inproc_ms,acquire_off_ms,version_ms")
	peaks := map[string]int64{}
	have := 0
	rnd := rand.New(rand.NewSource(1))
	for _, k := range ks {
		startBundles(img, have, k)
		have = max(have, k)
		dbOn, dbOff := filepath.Join(tmp, fmt.Sprintf("on-%d.db", k)), filepath.Join(tmp, fmt.Sprintf("off-%d.db", k))
		on := []string{"ALIASLEASE_DB=" + dbOn, "ALIASLEASE_DOCKER=on", "DOCKER_HOST=unix://" + sock}
		off := []string{"ALIASLEASE_DB=" + dbOff, "ALIASLEASE_DOCKER=off"}
		run(on, bin, "acquire", "--no-ifup", "warm")
		run(off, bin, "acquire", "--no-ifup", "warm")
		ss := map[string]*series{}
		names := []string{"acquire-on", "docker-cli", "curl-list", "inproc-list", "acquire-off", "version"}
		for _, n := range names {
			ss[n] = &series{name: n}
		}
		for i := range *runs {
			order := slices.Clone(names)
			rnd.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
			for _, n := range order {
				var s sample
				switch n {
				case "acquire-on":
					slug := fmt.Sprintf("new-%d", i)
					s = run(on, bin, "acquire", slug)
					run(on, bin, "release", slug)
				case "acquire-off":
					slug := fmt.Sprintf("new-%d", i)
					s = run(off, bin, "acquire", slug)
					run(off, bin, "release", slug)
				case "docker-cli":
					s = run(nil, "sh", "test/bench/docker_cli_baseline.sh")
				case "curl-list":
					s = run(nil, "curl", "-sf", "-o", "/dev/null", "--unix-socket", sock, "http://docker/v1.41/containers/json?all=1")
				case "inproc-list":
					s = rawList()
				case "version":
					s = run(nil, bin, "--version")
				}
				ss[n].samples = append(ss[n].samples, s)
			}
		}
		a, c, l := ss["acquire-on"].median(), ss["docker-cli"].median(), ss["curl-list"].median()
		fmt.Fprintf(&md, "| %d | %s | %s | %s | %s | %s | %s | %.0f× | %s |\n", k, ms(a), ms(c), ms(l), ms(ss["inproc-list"].median()),
			ms(ss["acquire-off"].median()), ms(ss["version"].median()), float64(c)/float64(a), ms(a-l))
		fmt.Fprintf(&csv, "%d,%s,%s,%s,%s,%s,%s\n", k, ms(a), ms(c), ms(l), ms(ss["inproc-list"].median()), ms(ss["acquire-off"].median()), ms(ss["version"].median()))
		for _, n := range []string{"acquire-on", "acquire-off", "version"} {
			peaks[n] = max(peaks[n], ss[n].peakKB())
		}
		log.Printf("K=%d done", k)
	}

	// 64 processes acquiring at once, Docker on, with the largest K.
	fmt.Fprintf(&md, "\n64 concurrent `acquire` (Docker on, K=%d, fresh database each time, %d repetitions):\n\n", have, 5)
	var totals, slowest []time.Duration
	failures := 0
	for rep := range 5 {
		db := filepath.Join(tmp, fmt.Sprintf("c64-%d.db", rep))
		env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=on", "DOCKER_HOST=unix://" + sock, "ALIASLEASE_POOL=127.0.0.16-127.0.0.127"}
		results := make([]sample, 64)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range 64 {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = run(env, bin, "acquire", fmt.Sprintf("c-%d", i)) }()
		}
		wg.Wait()
		totals = append(totals, time.Since(start))
		var slow time.Duration
		for _, r := range results {
			slow = max(slow, r.wall)
			if r.code != 0 {
				failures++
			}
			peaks["acquire-on (64 at once)"] = max(peaks["acquire-on (64 at once)"], r.maxKB)
		}
		slowest = append(slowest, slow)
	}
	slices.Sort(totals)
	slices.Sort(slowest)
	fmt.Fprintf(&md, "| total wall (median) | slowest process (median) | failures |\n|---|---|---|\n| %s ms | %s ms | %d of %d |\n", ms(totals[2]), ms(slowest[2]), failures, 5*64)

	// gc with 1,000 leases and the largest K.
	gcDB := filepath.Join(tmp, "gc.db")
	s, err := lease.Open(gcDB, &lease.Options{Create: true})
	if err != nil {
		log.Fatal(err)
	}
	pool := lease.MustParsePool("127.2.0.0/20")
	now := time.Now()
	for i := range 1000 {
		if _, err := s.Acquire(lease.AcquireRequest{Slug: fmt.Sprintf("lease-%04d", i), Pool: pool, Now: now}); err != nil {
			log.Fatal(err)
		}
	}
	s.Close()
	gcEnv := []string{"ALIASLEASE_DB=" + gcDB, "ALIASLEASE_DOCKER=on", "DOCKER_HOST=unix://" + sock, "ALIASLEASE_POOL=127.2.0.0/20"}
	gcS, listS, curlS := &series{}, &series{}, &series{}
	for range *runs {
		gcS.samples = append(gcS.samples, run(gcEnv, bin, "gc", "--grace", "1h"))
		listS.samples = append(listS.samples, rawList())
		curlS.samples = append(curlS.samples, run(nil, "curl", "-sf", "-o", "/dev/null", "--unix-socket", sock, "http://docker/v1.41/containers/json?all=1"))
	}
	peaks["gc (1,000 leases)"] = gcS.peakKB()
	lsS := &series{}
	for range *runs {
		lsS.samples = append(lsS.samples, run(gcEnv, bin, "list"))
	}
	peaks["list (1,000 leases)"] = lsS.peakKB()
	fmt.Fprintf(&md, "\n`gc` with 1,000 leases and %d containers (nothing to reclaim, so every run does the same work):\n\n", have)
	fmt.Fprintf(&md, "| gc (median) | raw list in-process | raw list (curl) | gc − in-process list |\n|---|---|---|---|\n| %s ms | %s ms | %s ms | %s ms |\n",
		ms(gcS.median()), ms(listS.median()), ms(curlS.median()), ms(gcS.median()-listS.median()))

	fmt.Fprintf(&md, "\nPeak memory (max RSS over all runs):\n\n| command | MiB |\n|---|---|\n")
	var pn []string
	for n := range peaks {
		pn = append(pn, n)
	}
	sort.Strings(pn)
	for _, n := range pn {
		fmt.Fprintf(&md, "| %s | %.1f |\n", n, float64(peaks[n])/1024)
	}

	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		log.Fatal(err)
	}
	os.WriteFile(filepath.Join(*outDir, "results.md"), []byte(md.String()), 0o644)
	os.WriteFile(filepath.Join(*outDir, "results.csv"), []byte(csv.String()), 0o644)
	fmt.Print(md.String())
	plot(filepath.Join(*outDir, "results.csv"), filepath.Join(*outDir, "acquire-vs-k.png"))
}

func cpuInfo() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, model, _ = strings.Cut(line, ": ")
			break
		}
	}
	return fmt.Sprintf("%d CPUs (%s)", strings.Count(string(b), "processor\t:"), model)
}

// plot draws acquire time against K with gnuplot.
func plot(csv, png string) {
	script := fmt.Sprintf(`set terminal pngcairo size 900,540 noenhanced
set output %q
set datafile separator ","
set key autotitle columnhead left top
set title "Allocating an alias: time against bundle containers running (median)"
set xlabel "bundle containers running (K)"
set ylabel "wall time per allocation, ms (log scale)"
set logscale y
set grid
plot %q using 1:3 with linespoints lw 2 title "docker-CLI approach (ps + inspect per container)", \
     %q using 1:2 with linespoints lw 2 title "aliaslease acquire, Docker on", \
     %q using 1:4 with linespoints lw 1 dt 2 title "one raw list call (curl)", \
     %q using 1:6 with linespoints lw 1 dt 3 title "aliaslease acquire, Docker off"
`, png, csv, csv, csv, csv)
	cmd := exec.Command("gnuplot")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		log.Printf("gnuplot: %v %s (install gnuplot-nox for the plot)", err, out)
	}
}
