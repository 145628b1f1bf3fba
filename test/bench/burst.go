package main

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// burstPool holds the largest burst with room to spare.
const burstPool = "127.0.0.16-127.0.0.127"

// burstResult is what one N gathered over the rounds.
type burstResult struct {
	acq, against            acqSide // this binary's acquires, the -against binary's
	floorWall, floorSlowest []time.Duration
	floorCPU                []time.Duration
	floorFail               int
	floorKB                 int64
	floor                   series // every floor process, for min/max
}

// acqSide is what the acquire bursts of one binary gathered.
type acqSide struct {
	wall, slowest, cpu []time.Duration // whole burst; its slowest process; CPU of all its processes
	fail, duplicates   int             // failed processes; aliases handed out twice within a burst
	kb                 int64
	all                series // every process, for min/max
}

// burstPart starts N acquires at once (distinct slugs, a fresh database
// per burst, Docker on, k containers up) and, separately, N floors at
// once, and N acquires of the -against binary when one is given; each
// round runs every N and kind in a shuffled order.
func burstPart(k int) *partOut {
	ns := ints(*burstNs)
	res := map[int]*burstResult{}
	for _, n := range ns {
		res[n] = &burstResult{}
	}
	pool := lease.MustParsePool(burstPool)
	if m := maxInt(ns); m > pool.Len() {
		fatalf("-burst-n %d exceeds the burst pool %s", m, burstPool)
	}
	c0 := engineContainers()
	type job struct {
		n    int
		kind string // "acquire", "against", "floor"
	}
	var jobs []job
	for _, n := range ns {
		jobs = append(jobs, job{n, "acquire"}, job{n, "floor"})
		if *againstBin != "" {
			jobs = append(jobs, job{n, "against"})
		}
	}
	for round := range *burstRounds {
		for _, j := range shuffled(jobs) {
			r := res[j.n]
			switch j.kind {
			case "floor":
				floorBurst(r, j.n)
			case "acquire":
				r.acq.burst(bin, filepath.Join(tmpDir, "burst", fmt.Sprintf("r%d-n%d", round, j.n)), j.n, pool)
			case "against":
				r.against.burst(*againstBin, filepath.Join(tmpDir, "burst", fmt.Sprintf("against-r%d-n%d", round, j.n)), j.n, pool)
			}
		}
		logf("  burst round %d of %d done", round+1, *burstRounds)
	}
	return burstReport(k, ns, res, c0, engineContainers())
}

// floorBurst runs n floors at once into r.
func floorBurst(r *burstResult, n int) {
	cs := make([]cmdSpec, n)
	for i := range cs {
		cs[i] = cmdSpec{argv: []string{floorBin, *sock}}
	}
	out, wall := burst(cs)
	r.floorWall = append(r.floorWall, wall)
	var slow time.Duration
	for _, s := range out {
		slow = max(slow, s.wall)
		r.floorKB = max(r.floorKB, s.maxKB)
		if s.code != 0 {
			r.floorFail++
		}
		r.floor.add(s)
	}
	r.floorSlowest = append(r.floorSlowest, slow)
	r.floorCPU = append(r.floorCPU, cpuSum(out))
}

// burst runs n acquires of binary at once on a fresh database in dir,
// created before it (by the library, empty), so that the burst measures
// acquires and not the one-time creation of the file. Every alias
// printed must be a distinct pool address.
func (a *acqSide) burst(binary, dir string, n int, pool lease.Pool) {
	db := filepath.Join(dir, "leases.db")
	if err := createEmpty(db); err != nil {
		fatalf("creating %s: %v", db, err)
	}
	env := append(dockerOn(db), "ALIASLEASE_POOL="+burstPool)
	cs := make([]cmdSpec, n)
	for i := range cs {
		cs[i] = cmdSpec{env: env, argv: []string{binary, "acquire", fmt.Sprintf("burst-%d", i)}, capture: true}
	}
	out, wall := burst(cs)
	a.wall = append(a.wall, wall)
	var slow time.Duration
	seen := map[netip.Addr]int{}
	for i, s := range out {
		slow = max(slow, s.wall)
		a.kb = max(a.kb, s.maxKB)
		a.all.add(s)
		if s.code != 0 {
			a.fail++
			continue
		}
		addr, err := netip.ParseAddr(strings.TrimSpace(s.out))
		if err != nil || !pool.Contains(addr) {
			logf("burst N=%d (%s): process %d printed %q", n, binary, i, s.out)
			a.fail++
			continue
		}
		seen[addr]++
	}
	for addr, c := range seen {
		if c > 1 {
			logf("burst N=%d (%s): %s handed out %d times", n, binary, addr, c)
			a.duplicates += c - 1
		}
	}
	a.slowest = append(a.slowest, slow)
	a.cpu = append(a.cpu, cpuSum(out))
}

func burstReport(k int, ns []int, res map[int]*burstResult, c0, c1 int) *partOut {
	p := newPart("burst", "Bursts: N acquires at once against N floors at once")
	p.printf("N `aliaslease acquire` processes (distinct slugs, Docker on, pool %s, a fresh database per burst\n"+
		"created empty beforehand) forked at once, against N floor programs forked at once; %d bundle containers up\n"+
		"(engine listed %d→%d containers). Wall time of the whole burst from the first fork to the last exit;\n"+
		"medians over %d rounds, every N and kind in a shuffled order per round. Aliases are checked\n"+
		"distinct within each burst. CPU is the user + system time of all processes of a burst divided by\n"+
		"the %d CPUs: the wall time a burst would take if it only waited for CPU.\n\n", burstPool, k, c0, c1, *burstRounds, runtime.NumCPU())
	p.printf("| N | acquire burst | floor burst | ratio | slowest acquire | slowest floor | acquire CPU / CPUs | floor CPU / CPUs | acquire failures | duplicate aliases | floor failures | peak RSS acquire | peak RSS floor |\n")
	p.printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	cpus := time.Duration(runtime.NumCPU())
	for _, n := range ns {
		r := res[n]
		a, f := medianOf(r.acq.wall), medianOf(r.floorWall)
		p.printf("| %d | %s | %s | %s | %s | %s | %s | %s | %d of %d | %d | %d of %d | %s | %s |\n", n, ms(a), ms(f), ratio(a, f),
			ms(medianOf(r.acq.slowest)), ms(medianOf(r.floorSlowest)), ms(medianOf(r.acq.cpu)/cpus), ms(medianOf(r.floorCPU)/cpus), r.acq.fail, n**burstRounds, r.acq.duplicates,
			r.floorFail, n**burstRounds, rssCell(r.acq.kb), rssCell(r.floorKB))
		aw := &series{samples: wallSamples(r.acq.wall, r.acq.kb)}
		fw := &series{samples: wallSamples(r.floorWall, r.floorKB)}
		p.rowFails("acquire-burst", k, n, -1, aw, r.acq.fail, fmt.Sprintf("whole burst; %d duplicate aliases; failures count processes", r.acq.duplicates))
		p.rowFails("floor-burst", k, n, -1, fw, r.floorFail, "whole burst; failures count processes")
		p.row("acquire-in-burst", k, n, -1, &r.acq.all, "each process of the bursts")
		p.row("floor-in-burst", k, n, -1, &r.floor, "each process of the bursts")
	}
	if *againstBin == "" {
		return p
	}
	p.printf("\nThe -against binary (%s) in the same rounds:\n\n", againstShown)
	p.printf("| N | against burst | acquire burst | acquire / against | against / floor | against CPU / CPUs | acquire CPU / CPUs | against failures | duplicate aliases |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range ns {
		r := res[n]
		g, a, f := medianOf(r.against.wall), medianOf(r.acq.wall), medianOf(r.floorWall)
		p.printf("| %d | %s | %s | %s | %s | %s | %s | %d of %d | %d |\n", n, ms(g), ms(a), ratio(a, g), ratio(g, f),
			ms(medianOf(r.against.cpu)/cpus), ms(medianOf(r.acq.cpu)/cpus), r.against.fail, n**burstRounds, r.against.duplicates)
		gw := &series{samples: wallSamples(r.against.wall, r.against.kb)}
		p.rowFails("against-acquire-burst", k, n, -1, gw, r.against.fail, fmt.Sprintf("whole burst of the -against binary; %d duplicate aliases", r.against.duplicates))
		p.row("against-acquire-in-burst", k, n, -1, &r.against.all, "each process of the -against binary's bursts")
	}
	return p
}

// wallSamples turns burst walls into samples for a CSV row, each with
// the peak RSS of the bursts' processes.
func wallSamples(walls []time.Duration, kb int64) []sample {
	out := make([]sample, len(walls))
	for i, w := range walls {
		out[i] = sample{wall: w, maxKB: kb}
	}
	return out
}

func cpuSum(ss []sample) time.Duration {
	var t time.Duration
	for _, s := range ss {
		t += s.cpu
	}
	return t
}

func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// createEmpty creates the database db with no lease in it, through the
// library's door: recover from an inventory that lists nothing.
func createEmpty(db string) error {
	m := &lease.Manager{Path: db, Pool: lease.MustParsePool(lease.DefaultPool), Inventory: listed{}, Mode: lease.InventoryOn, Command: "bench"}
	_, err := m.Recover(context.Background(), false)
	return err
}
