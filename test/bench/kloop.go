package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// shuffled returns a shuffled copy of names.
func shuffled[T any](names []T) []T {
	out := slices.Clone(names)
	rnd.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	return out
}

func dockerOn(db string) []string {
	return []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=on", "DOCKER_HOST=unix://" + *sock}
}

func dockerOff(db string) []string {
	return []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
}

// engineCount records how many containers the engine listed at each K
// (the bench's K plus anything else on the engine).
var engineCount = map[int][2]int{}

// measureK measures, with k bundle containers up, a new lease with Docker
// on and off, `aliaslease --version` and the floor program, and with
// withCLI the docker-CLI approach and a raw list call too: all in one
// shuffled loop, so that their ratios come from the same run.
func measureK(k int, withCLI bool) map[string]*series {
	dir := filepath.Join(tmpDir, fmt.Sprintf("k-%d", k))
	on, off := dockerOn(filepath.Join(dir, "on", "leases.db")), dockerOff(filepath.Join(dir, "off", "leases.db"))
	names := []string{"acquire-on", "acquire-off", "acquire-renew", "version", "floor", "floor-db"}
	if *againstBin != "" {
		names = append(names, "against-acquire-on", "against-acquire-off", "against-acquire-renew")
	}
	if withCLI {
		names = append(names, "docker-cli", "curl-list", "inproc-list")
	}
	// Untimed warm-up: create both databases (the "warm" lease holds
	// 127.0.0.16, so every new lease is 127.0.0.17), fault the binaries
	// into the page cache.
	c0 := engineContainers()
	if err := os.MkdirAll(filepath.Join(dir, "floordb"), 0o700); err != nil {
		fatalf("%v", err)
	}
	run(cmdSpec{argv: []string{floorDBBin, filepath.Join(dir, "floordb", "leases.db"), *sock}})
	run(cmdSpec{env: on, argv: []string{bin, "acquire", "warm"}})
	run(cmdSpec{env: off, argv: []string{bin, "acquire", "warm"}})
	run(cmdSpec{argv: []string{bin, "--version"}})
	if withCLI {
		run(cmdSpec{env: []string{"BOTTLE_PREFIX=" + prefix}, argv: []string{"sh", "test/bench/docker_cli_baseline.sh"}})
	}
	ss := map[string]*series{}
	for _, n := range names {
		ss[n] = &series{name: n}
	}
	for i := range *runs {
		for _, n := range shuffled(names) {
			var s sample
			b := bin
			if strings.HasPrefix(n, "against-") {
				b = *againstBin
			}
			switch strings.TrimPrefix(n, "against-") {
			case "acquire-on", "acquire-off":
				env := on
				if strings.HasSuffix(n, "acquire-off") {
					env = off
				}
				slug := fmt.Sprintf("new-%d", i)
				s = run(cmdSpec{env: env, argv: []string{b, "acquire", slug}})
				run(cmdSpec{env: env, argv: []string{bin, "release", slug}})
			case "acquire-renew":
				s = run(cmdSpec{env: on, argv: []string{b, "acquire", "warm"}})
			case "version":
				s = run(cmdSpec{argv: []string{bin, "--version"}})
			case "floor":
				s = run(cmdSpec{argv: []string{floorBin, *sock}})
			case "floor-db":
				s = run(cmdSpec{argv: []string{floorDBBin, filepath.Join(dir, "floordb", "leases.db"), *sock}})
			case "docker-cli":
				s = run(cmdSpec{env: []string{"BOTTLE_PREFIX=" + prefix}, argv: []string{"sh", "test/bench/docker_cli_baseline.sh"}})
			case "curl-list":
				s = run(cmdSpec{argv: []string{"curl", "-sf", "-o", "/dev/null", "--unix-socket", *sock, "http://docker/v1.41/containers/json?all=1"}})
			case "inproc-list":
				s = rawList()
			}
			ss[n].add(s)
		}
		if (i+1)%5 == 0 || i+1 == *runs {
			logf("  K=%d: %d of %d iterations (acquire-on %s ms, floor %s ms so far)", k, i+1, *runs, ms(ss["acquire-on"].median()), ms(ss["floor"].median()))
		}
	}
	engineCount[k] = [2]int{c0, engineContainers()}
	return ss
}

// containersNote says how many containers the engine listed, when it is
// not just the bench's K (other work on the same engine).
func containersNote(k int) string {
	c := engineCount[k]
	if c[0] == k && c[1] == k {
		return fmt.Sprint(k)
	}
	return fmt.Sprintf("%d (%d→%d listed)", k, c[0], c[1])
}

func cliPart(ks []int, kres map[int]map[string]*series) *partOut {
	p := newPart("cli", "Acquire against the docker-CLI approach, per K")
	p.printf("K bundle containers run, each publishing three ports on its own alias 127.0.1.(i+1), outside the default pool;\n" +
		"every command answers 127.0.0.17. Medians in ms over the runs.\n\n")
	p.printf("| K | acquire, Docker on | docker-CLI approach | raw list (curl) | raw list (in-process) | floor program | acquire, Docker off | `--version` | CLI approach / acquire | acquire − curl list |\n")
	p.printf("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range ks {
		ss := kres[k]
		if ss == nil {
			continue
		}
		a, c, l := ss["acquire-on"].median(), ss["docker-cli"].median(), ss["curl-list"].median()
		p.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", containersNote(k), ms(a), ms(c), ms(l), ms(ss["inproc-list"].median()),
			ms(ss["floor"].median()), ms(ss["acquire-off"].median()), ms(ss["version"].median()), ratio(c, a), diff(a, l))
		for _, n := range []string{"acquire-on", "docker-cli", "curl-list", "inproc-list", "floor", "acquire-off", "version"} {
			p.row(n, k, -1, -1, ss[n], "")
		}
	}
	p.printf("\nPeak RSS, MiB (largest over the runs):\n\n| K | acquire, Docker on | acquire, Docker off | `--version` | floor program | failures (all commands) |\n|---|---|---|---|---|---|\n")
	for _, k := range ks {
		ss := kres[k]
		if ss == nil {
			continue
		}
		p.printf("| %d | %s | %s | %s | %s | %s |\n", k, rssCell(ss["acquire-on"].peakKB()), rssCell(ss["acquire-off"].peakKB()),
			rssCell(ss["version"].peakKB()), rssCell(ss["floor"].peakKB()), failSummary(ss))
	}
	return p
}

func failSummary(ss map[string]*series) string {
	var parts []string
	for _, n := range sortedKeys(ss) {
		if f := ss[n].failures(); f > 0 {
			parts = append(parts, fmt.Sprintf("%s %d of %d", n, f, len(ss[n].samples)))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func floorPart(ks []int, kres map[int]map[string]*series) *partOut {
	p := newPart("floor", "Acquire against the floor")
	p.printf("The floor program (test/bench/floor/main.go, built statically from this module, so with the same\n" +
		"Docker client as aliaslease) creates a client (WithHost unix socket, WithAPIVersionNegotiation),\n" +
		"lists all containers once and exits: the least any allocator built on the client can do per\n" +
		"process. acquire is a new lease (new slug, released afterwards, untimed), default pool, K bundle\n" +
		"containers up as in the cli part. Medians in ms (CPU: user + system time of the process),\n" +
		"peak RSS in MiB.\n\n")
	p.printf("| K | acquire, Docker on | floor | acquire / floor | acquire − floor | CPU acquire | CPU floor | peak RSS acquire | peak RSS floor | failures |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range ks {
		ss := kres[k]
		if ss == nil {
			continue
		}
		a, f := ss["acquire-on"], ss["floor"]
		p.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", containersNote(k), ms(a.median()), ms(f.median()), ratio(a.median(), f.median()),
			diff(a.median(), f.median()), ms(a.medianCPU()), ms(f.medianCPU()), rssCell(a.peakKB()), rssCell(f.peakKB()), failSummary(map[string]*series{"acquire": a, "floor": f}))
		p.row("acquire-on", k, -1, -1, a, "")
		p.row("floor", k, -1, -1, f, "")
	}
	p.printf("\nThe floor with a durable commit (test/bench/floordb: the floor's list, then bbolt's open, one\n" +
		"read-write transaction that puts one key, its commit with bbolt's two fdatasyncs, close), in the same\n" +
		"iterations: what the storage promise alone adds to a process.\n\n| K | floor + commit | floor | ratio | CPU floor + commit | CPU floor |\n|---|---|---|---|---|---|\n")
	for _, k := range ks {
		if ss := kres[k]; ss != nil {
			d, f := ss["floor-db"], ss["floor"]
			p.printf("| %s | %s | %s | %s | %s | %s |\n", containersNote(k), ms(d.median()), ms(f.median()), ratio(d.median(), f.median()), ms(d.medianCPU()), ms(f.medianCPU()))
			p.row("floor-db", k, -1, -1, d, "the floor, then one durable bbolt commit")
		}
	}
	p.printf("\nA renewal (Docker on; the warm lease, acquired again), in the same iterations:\n\n| K | renewal | floor | renewal / floor |\n|---|---|---|---|\n")
	for _, k := range ks {
		if ss := kres[k]; ss != nil {
			r, f := ss["acquire-renew"], ss["floor"]
			p.printf("| %s | %s | %s | %s |\n", containersNote(k), ms(r.median()), ms(f.median()), ratio(r.median(), f.median()))
			p.row("acquire-renew", k, -1, -1, r, "renewal of the warm lease")
		}
	}
	againstTable(p, ks, kres)
	p.printf("\nDocker off: a new lease from the database alone against process start (`aliaslease --version`):\n\n")
	p.printf("| K | acquire, Docker off | `--version` | difference (ms) | peak RSS acquire | peak RSS `--version` |\n|---|---|---|---|---|---|\n")
	for _, k := range ks {
		ss := kres[k]
		if ss == nil {
			continue
		}
		a, v := ss["acquire-off"], ss["version"]
		p.printf("| %d | %s | %s | %s | %s | %s |\n", k, ms(a.median()), ms(v.median()), diff(a.median(), v.median()), rssCell(a.peakKB()), rssCell(v.peakKB()))
		p.row("acquire-off", k, -1, -1, a, "")
		p.row("version", k, -1, -1, v, "")
	}
	return p
}

// againstTable reports the -against binary's acquires, measured in the
// same iterations, beside this binary's.
func againstTable(p *partOut, ks []int, kres map[int]map[string]*series) {
	if *againstBin == "" {
		return
	}
	p.printf("\nThe -against binary (%s) in the same iterations (medians in ms; CPU in parentheses):\n\n", againstShown)
	p.printf("| K | command | against | this binary | this / against | against / floor | this / floor |\n|---|---|---|---|---|---|---|\n")
	for _, k := range ks {
		ss := kres[k]
		if ss == nil {
			continue
		}
		f := ss["floor"].median()
		for _, n := range []string{"acquire-on", "acquire-renew", "acquire-off"} {
			g, a := ss["against-"+n], ss[n]
			p.printf("| %s | %s | %s (%s) | %s (%s) | %s | %s | %s |\n", containersNote(k), n, ms(g.median()), ms(g.medianCPU()), ms(a.median()), ms(a.medianCPU()),
				ratio(a.median(), g.median()), ratio(g.median(), f), ratio(a.median(), f))
			p.row("against-"+n, k, -1, -1, g, "the -against binary")
		}
	}
}
