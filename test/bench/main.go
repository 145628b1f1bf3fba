// Command bench measures aliaslease side by side with the docker-CLI
// allocator it replaces and with the floor any Docker-client-based
// allocator has, on a real engine. It is run by "make bench"
// (test/bench/run.sh; method in test/bench/README.md), not by the tests.
//
// Every measured command is a separate process, timed from fork to exit;
// within one iteration the commands run in a shuffled order, so that the
// machine's noise falls on all of them alike, and medians are reported.
//
// Parts (-only, comma-separated; default all):
//
//	cli    acquire against the docker-CLI approach and a raw list call, per K (-k)
//	floor  acquire against the floor program (test/bench/floor), per K (-floor-k)
//	burst  N concurrent acquires against N concurrent floors (-burst-n)
//	gc     gc with 1,000 leases and 60 containers against the floor
//	big    acquire, list and gc at 65,000 leases against 16 leases
//	share  acquire with and without a shared place ("aliaslease share")
//	go     the library's Go benchmarks (go test -bench ./lease)
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	runs         = flag.Int("runs", 21, "iterations per measurement (cli, floor, gc, big)")
	only         = flag.String("only", "", "parts to run, comma-separated: "+strings.Join(allParts, ",")+" (default all)")
	ksFlag       = flag.String("k", "0,14,60", "cli part: numbers of bundle containers")
	floorKs      = flag.String("floor-k", "14,60", "floor part: numbers of bundle containers")
	burstNs      = flag.String("burst-n", "1,8,16,32,64", "burst part: numbers of concurrent processes")
	burstK       = flag.Int("burst-k", 14, "burst part: bundle containers present")
	burstRounds  = flag.Int("burst-rounds", 3, "burst part: rounds per N")
	gcLeases     = flag.Int("gc-leases", 1000, "gc part: leases in the database")
	gcK          = flag.Int("gc-k", 60, "gc part: bundle containers present")
	bigLeases    = flag.Int("big-leases", 65000, "big part: leases in the large database (pool 127.1.0.0/16)")
	smallLeases  = flag.Int("small-leases", 16, "big part: leases in the small database (same pool)")
	bigKs        = flag.String("big-k", "0,60", "big part: numbers of bundle containers")
	outDir       = flag.String("out", "docs/bench", "where to write results.md, results.csv, part files and plots")
	binFlag      = flag.String("bin", "", "aliaslease binary (default: build ./cmd/aliaslease statically)")
	assembleOnly = flag.Bool("assemble", false, "measure nothing: rebuild results.md, results.csv and the plots from the part files in -out")
	againstBin   = flag.String("against", "", "parts cli, floor, burst and big: another aliaslease binary measured in the same iterations and rounds (its rows are named against-COMMAND)")
	sock         = flag.String("sock", "/var/run/docker.sock", "the engine's unix socket")
	procTimeout  = flag.Duration("timeout", 60*time.Second, "kill a measured process after this long")
	seed         = flag.Int64("seed", 1, "seed of the shuffles")
)

var allParts = []string{"cli", "floor", "burst", "gc", "big", "share", "go"}

var (
	tmpDir   string // the bench's scratch directory, on disk (os.TempDir)
	bin      string // the aliaslease binary measured
	floorBin string // the floor program
	// floorDBBin is the floor with a durable bbolt commit after the list
	// (test/bench/floordb): what the storage promise alone adds.
	floorDBBin string
	// againstShown is the -against binary as given: it is run from a
	// settled copy (see settle).
	againstShown string
	rnd          *rand.Rand
	began        = time.Now()
	info         runInfo
)

func logf(format string, args ...any) {
	log.Printf("[%5.1fs] "+format, append([]any{time.Since(began).Seconds()}, args...)...)
}

// fatalf removes what the bench created, then exits.
func fatalf(format string, args ...any) {
	log.Printf("bench: "+format, args...)
	cleanup()
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(1)
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			log.Fatalf("bench: bad number %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out
}

// task is one step of the schedule, run with k bundle containers up.
type task struct {
	k    int
	name string
	fn   func()
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *assembleOnly {
		assemble()
		plots()
		return
	}
	want := map[string]bool{}
	if *only == "" {
		for _, p := range allParts {
			want[p] = true
		}
	} else {
		for _, p := range strings.Split(*only, ",") {
			if !slices.Contains(allParts, p) {
				log.Fatalf("bench: unknown part %q (parts: %s)", p, strings.Join(allParts, ","))
			}
			want[p] = true
		}
	}
	if *runs < 1 || *burstRounds < 1 {
		log.Fatal("bench: -runs and -burst-rounds must be at least 1")
	}
	rnd = rand.New(rand.NewSource(*seed))
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		log.Fatal(err)
	}
	var err error
	if tmpDir, err = os.MkdirTemp("", "aliaslease-bench"); err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmpDir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		log.Printf("bench: interrupted; removing containers and image")
		cleanup()
		os.RemoveAll(tmpDir)
		os.Exit(130)
	}()

	docker := want["cli"] || want["floor"] || want["burst"] || want["gc"] || want["big"] || want["share"]
	if docker {
		logf("building aliaslease, the floor program and the bundle image")
		bin = filepath.Join(tmpDir, "aliaslease")
		if *binFlag != "" {
			settle(*binFlag, bin)
		} else {
			goBuild(bin, "./cmd/aliaslease")
		}
		if *againstBin != "" {
			against := filepath.Join(tmpDir, "against")
			settle(*againstBin, against)
			againstShown, *againstBin = *againstBin, against
		}
		floorBin = filepath.Join(tmpDir, "floor")
		goBuild(floorBin, "./test/bench/floor")
		floorDBBin = filepath.Join(tmpDir, "floordb")
		goBuild(floorDBBin, "./test/bench/floordb")
		spawnBin := filepath.Join(tmpDir, "spawn")
		goBuild(spawnBin, "./test/bench/spawn")
		startSpawner(spawnBin)
		info = collectInfo()
		cleanup()
		buildImage(tmpDir)
	}

	var tasks []task
	kres := map[int]map[string]*series{}
	cliKs, flKs := ints(*ksFlag), ints(*floorKs)
	var loopKs []int
	if want["cli"] {
		loopKs = append(loopKs, cliKs...)
	}
	if want["floor"] {
		loopKs = append(loopKs, flKs...)
	}
	slices.Sort(loopKs)
	loopKs = slices.Compact(loopKs)
	for _, k := range loopKs {
		withCLI := want["cli"] && slices.Contains(cliKs, k)
		tasks = append(tasks, task{k, fmt.Sprintf("acquire per K (K=%d)", k), func() { kres[k] = measureK(k, withCLI) }})
	}
	parts := map[string]*partOut{}
	if want["burst"] {
		tasks = append(tasks, task{*burstK, "burst", func() { parts["burst"] = burstPart(*burstK) }})
	}
	if want["gc"] {
		tasks = append(tasks, task{*gcK, "gc", func() { parts["gc"] = gcPart(*gcK) }})
	}
	if want["share"] {
		tasks = append(tasks, task{*burstK, "share", func() { parts["share"] = sharePart(*burstK) }})
	}
	var bigRuns []bigRun
	if want["big"] {
		for _, k := range ints(*bigKs) {
			tasks = append(tasks, task{k, fmt.Sprintf("big (K=%d)", k), func() { bigRuns = append(bigRuns, measureBig(k)) }})
		}
	}
	// Fewest container changes: run the tasks in order of K.
	slices.SortStableFunc(tasks, func(a, b task) int { return a.k - b.k })
	for _, t := range tasks {
		ensureK(t.k)
		logf("== %s", t.name)
		t.fn()
	}
	if docker {
		cleanup()
	}
	if want["cli"] {
		parts["cli"] = cliPart(cliKs, kres)
	}
	if want["floor"] {
		parts["floor"] = floorPart(flKs, kres)
	}
	if want["big"] {
		parts["big"] = bigPart(bigRuns)
	}
	for _, name := range allParts {
		if p := parts[name]; p != nil {
			p.save()
		}
	}
	if want["go"] {
		logf("== go benchmarks")
		goBench()
	}
	assemble()
	plots()
	logf("done in %s; results in %s", time.Since(began).Round(time.Second), filepath.Join(*outDir, "results.md"))
}
