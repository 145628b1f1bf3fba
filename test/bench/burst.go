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
	acqWall, floorWall       []time.Duration // whole burst, first fork to last exit
	acqSlowest, floorSlowest []time.Duration // the slowest process of a burst
	acqCPU, floorCPU         []time.Duration // CPU time of all processes of a burst
	acqFail, floorFail       int
	duplicates               int // aliases handed out twice within a burst
	acqKB, floorKB           int64
	acq, floor               series // every process, for min/max
}

// burstPart starts N acquires at once (distinct slugs, a fresh database
// per burst, Docker on, k containers up) and, separately, N floors at
// once; each round runs every N and both kinds in a shuffled order.
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
		n     int
		floor bool
	}
	var jobs []job
	for _, n := range ns {
		jobs = append(jobs, job{n, false}, job{n, true})
	}
	for round := range *burstRounds {
		for _, j := range shuffled(jobs) {
			r := res[j.n]
			cs := make([]cmdSpec, j.n)
			if j.floor {
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
				continue
			}
			// A fresh database per burst, created before it (by the
			// library, empty), so that the burst measures acquires and
			// not the one-time creation of the file.
			db := filepath.Join(tmpDir, "burst", fmt.Sprintf("r%d-n%d", round, j.n), "leases.db")
			if err := createEmpty(db); err != nil {
				fatalf("creating %s: %v", db, err)
			}
			env := append(dockerOn(db), "ALIASLEASE_POOL="+burstPool)
			for i := range cs {
				cs[i] = cmdSpec{env: env, argv: []string{bin, "acquire", fmt.Sprintf("burst-%d", i)}, capture: true}
			}
			out, wall := burst(cs)
			r.acqWall = append(r.acqWall, wall)
			var slow time.Duration
			seen := map[netip.Addr]int{}
			for i, s := range out {
				slow = max(slow, s.wall)
				r.acqKB = max(r.acqKB, s.maxKB)
				r.acq.add(s)
				if s.code != 0 {
					r.acqFail++
					continue
				}
				a, err := netip.ParseAddr(strings.TrimSpace(s.out))
				if err != nil || !pool.Contains(a) {
					logf("burst N=%d: process %d printed %q", j.n, i, s.out)
					r.acqFail++
					continue
				}
				seen[a]++
			}
			for a, c := range seen {
				if c > 1 {
					logf("burst N=%d: %s handed out %d times", j.n, a, c)
					r.duplicates += c - 1
				}
			}
			r.acqSlowest = append(r.acqSlowest, slow)
			r.acqCPU = append(r.acqCPU, cpuSum(out))
		}
		logf("  burst round %d of %d done", round+1, *burstRounds)
	}
	c1 := engineContainers()

	p := newPart("burst", "Bursts: N acquires at once against N floors at once")
	p.printf("N `aliaslease acquire` processes (distinct slugs, Docker on, pool %s, a fresh database per burst\n"+
		"created empty beforehand) forked at once, against N floor programs forked at once; %d bundle containers up\n"+
		"(engine listed %d→%d containers). Wall time of the whole burst from the first fork to the last exit;\n"+
		"medians over %d rounds, every N and both kinds in a shuffled order per round. Aliases are checked\n"+
		"distinct within each burst. CPU is the user + system time of all processes of a burst divided by\n"+
		"the %d CPUs: the wall time a burst would take if it only waited for CPU.\n\n", burstPool, k, c0, c1, *burstRounds, runtime.NumCPU())
	p.printf("| N | acquire burst | floor burst | ratio | slowest acquire | slowest floor | acquire CPU / CPUs | floor CPU / CPUs | acquire failures | duplicate aliases | floor failures | peak RSS acquire | peak RSS floor |\n")
	p.printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range ns {
		r := res[n]
		a, f := medianOf(r.acqWall), medianOf(r.floorWall)
		cpus := time.Duration(runtime.NumCPU())
		p.printf("| %d | %s | %s | %s | %s | %s | %s | %s | %d of %d | %d | %d of %d | %s | %s |\n", n, ms(a), ms(f), ratio(a, f),
			ms(medianOf(r.acqSlowest)), ms(medianOf(r.floorSlowest)), ms(medianOf(r.acqCPU)/cpus), ms(medianOf(r.floorCPU)/cpus), r.acqFail, n**burstRounds, r.duplicates,
			r.floorFail, n**burstRounds, rssCell(r.acqKB), rssCell(r.floorKB))
		aw := &series{samples: wallSamples(r.acqWall, r.acqKB)}
		fw := &series{samples: wallSamples(r.floorWall, r.floorKB)}
		p.rowFails("acquire-burst", k, n, -1, aw, r.acqFail, fmt.Sprintf("whole burst; %d duplicate aliases; failures count processes", r.duplicates))
		p.rowFails("floor-burst", k, n, -1, fw, r.floorFail, "whole burst; failures count processes")
		p.row("acquire-in-burst", k, n, -1, &r.acq, "each process of the bursts")
		p.row("floor-in-burst", k, n, -1, &r.floor, "each process of the bursts")
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
