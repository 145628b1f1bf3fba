package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const bigPool = "127.1.0.0/16"

// bigDB is a database of the big part: its master copy, filled once, and
// that copy once three gcs have observed it (every lease vacant three
// times over: what a database of vacant leases is after three cron runs,
// which write nothing more until something changes).
type bigDB struct {
	master   string
	observed string
	took     time.Duration // the Recover call that filled it
}

// bigMasters are the big part's databases by lease count, filled by the
// first measureBig.
var bigMasters map[int]bigDB

// bigRun is what measureBig measured at one K.
type bigRun struct {
	k      int
	ss     map[bigKey]*series
	floor  *series
	c0, c1 int // containers the engine listed before and after
}

type bigKey struct {
	name string
	n    int
}

type bigCmd struct {
	name, label string
	writes      bool
	args        []string
	off         bool
	bin         string // the binary measured; "" for the one under test
}

// bigDefs are the commands of the big part: bigCmds, and each again for
// the -against binary when one is given, measured in the same iterations
// so that the two are compared side by side.
func bigDefs() []bigCmd {
	defs := append([]bigCmd(nil), bigCmds...)
	if *againstBin != "" {
		for _, d := range bigCmds {
			d.name, d.label, d.bin = "against-"+d.name, d.label+" (-against binary)", *againstBin
			defs = append(defs, d)
		}
	}
	return defs
}

var bigCmds = []bigCmd{
	{"acquire-on", "`acquire` (new lease, Docker on)", true, []string{"acquire", "--grace", "24h", "newcomer"}, false, ""},
	{"acquire-off", "`acquire` (new lease, Docker off)", true, []string{"acquire", "newcomer"}, true, ""},
	{"list-on", "`list` (Docker on)", false, []string{"list"}, false, ""},
	{"list-off", "`list` (Docker off)", false, []string{"list"}, true, ""},
	{"gc", "`gc --grace 24h` (Docker on, nothing to reclaim or record)", true, []string{"gc", "--grace", "24h"}, false, ""},
	{"gc-first", "`gc --grace 24h`, the first observation (every lease's vacancy begins: written)", true, []string{"gc", "--grace", "24h"}, false, ""},
}

// observeBig makes each big database's observed copy: three gcs by the
// measured binary, as cron's first three runs would make them.
func observeBig() {
	for n, m := range bigMasters {
		if m.observed != "" {
			continue
		}
		m.observed = filepath.Join(tmpDir, "big", fmt.Sprintf("observed-%d", n), "leases.db")
		copyDB(m.master, m.observed)
		for range 3 {
			if s := run(cmdSpec{env: append(dockerOn(m.observed), "ALIASLEASE_POOL="+bigPool), argv: []string{bin, "gc", "--grace", "24h"}, capture: true}); s.code != 0 || s.out != "" {
				fatalf("observing %d leases: gc exit %d, printed %q", n, s.code, firstLine(s.out))
			}
		}
		bigMasters[n] = m
	}
}

// fillBig fills the big part's databases, once.
func fillBig() {
	if bigMasters != nil {
		return
	}
	bigMasters = map[int]bigDB{}
	now := time.Now()
	for _, n := range []int{*smallLeases, *bigLeases} {
		if n < 1 || n >= 65536 {
			fatalf("lease counts must be between 1 and 65,535 (the pool %s must keep free aliases): %d", bigPool, n)
		}
		db := filepath.Join(tmpDir, "big", fmt.Sprintf("master-%d", n), "leases.db")
		logf("  filling %d leases", n)
		took := fill(db, bigFirst, n, bigSlug, now)
		bigMasters[n] = bigDB{master: db, took: took}
		logf("  filled %d leases in %.2f s", n, took.Seconds())
	}
}

var bigFirst = netip.MustParseAddr("127.1.0.0")

// bigSlug names lease j, on alias bigFirst+j. A scrambled prefix puts the
// slugs, and so the database's storage order, out of alias order, as a
// launcher's names would be: list must sort.
func bigSlug(j int) string { return fmt.Sprintf("fill-%04x-%05d", (j*40503)&0xffff, j) }

// measureBig measures acquire, list and gc on a database of -big-leases
// leases against one of -small-leases leases in the same pool
// (127.1.0.0/16), with k bundle containers up (their aliases are outside
// that pool). Commands that write (acquire, gc) get a fresh copy of the
// database before every sample (untimed, synced), so every sample sees
// the same file.
func measureBig(k int) bigRun {
	fillBig()
	observeBig()
	first := bigFirst
	sizes := []int{*smallLeases, *bigLeases}
	defs := bigDefs()
	// sourceOf is the database a command's samples start from: the
	// observed copy, but for the first observation's gc.
	sourceOf := func(d bigCmd, n int) string {
		if strings.HasSuffix(d.name, "gc-first") {
			return bigMasters[n].master
		}
		return bigMasters[n].observed
	}
	specOf := func(d bigCmd, n int) (cmdSpec, string) {
		var db string
		if d.writes {
			db = filepath.Join(tmpDir, "big", fmt.Sprintf("%s-%d", d.name, n), "leases.db")
		} else {
			db = filepath.Join(tmpDir, "big", fmt.Sprintf("read-%d", n), "leases.db")
		}
		env := dockerOn(db)
		if d.off {
			env = dockerOff(db)
		}
		exe := bin
		if d.bin != "" {
			exe = d.bin
		}
		return cmdSpec{env: append(env, "ALIASLEASE_POOL="+bigPool), argv: append([]string{exe}, d.args...)}, db
	}
	for _, n := range sizes {
		copyDB(bigMasters[n].observed, filepath.Join(tmpDir, "big", fmt.Sprintf("read-%d", n), "leases.db"))
	}
	// Warm-up and checks: the new lease is the lowest free alias, list
	// shows every lease, gc reclaims nothing.
	for _, n := range sizes {
		for _, d := range defs {
			c, db := specOf(d, n)
			if d.writes {
				copyDB(sourceOf(d, n), db)
			}
			c.capture = true
			s := run(c)
			base := strings.TrimPrefix(d.name, "against-")
			switch {
			case s.code != 0:
				fatalf("warm-up %s at %d leases: exit %d", d.name, n, s.code)
			case strings.HasPrefix(base, "acquire") && strings.TrimSpace(s.out) != lastOf(first, n+1).String():
				fatalf("warm-up %s at %d leases printed %q, want %s", d.name, n, s.out, lastOf(first, n+1))
			case strings.HasPrefix(base, "gc") && s.out != "":
				fatalf("warm-up gc at %d leases reclaimed: %s", n, firstLine(s.out))
			case strings.HasPrefix(base, "list") && strings.Count(s.out, "fill-") != n:
				fatalf("warm-up %s at %d leases listed %d leases", d.name, n, strings.Count(s.out, "fill-"))
			}
		}
	}
	c0 := engineContainers()
	ss := map[bigKey]*series{}
	var order []bigKey
	for _, n := range sizes {
		for _, d := range defs {
			ss[bigKey{d.name, n}] = &series{name: d.name}
			order = append(order, bigKey{d.name, n})
		}
	}
	floor := &series{name: "floor"}
	order = append(order, bigKey{"floor", 0})
	defOf := map[string]bigCmd{}
	for _, d := range defs {
		defOf[d.name] = d
	}
	for i := range *runs {
		for _, key := range shuffled(order) {
			if key.name == "floor" {
				floor.add(run(cmdSpec{argv: []string{floorBin, *sock}}))
				continue
			}
			d := defOf[key.name]
			c, db := specOf(d, key.n)
			if d.writes {
				copyDB(sourceOf(d, key.n), db)
			}
			ss[key].add(run(c))
		}
		if (i+1)%5 == 0 || i+1 == *runs {
			logf("  big (K=%d): %d of %d iterations", k, i+1, *runs)
		}
	}
	c1 := engineContainers()
	return bigRun{k: k, ss: ss, floor: floor, c0: c0, c1: c1}
}

// bigPart reports measureBig's runs, one table per K.
func bigPart(results []bigRun) *partOut {
	small, big := *smallLeases, *bigLeases
	fsize := func(n int) string {
		fi, err := os.Stat(bigMasters[n].master)
		if err != nil {
			return "?"
		}
		return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
	}
	p := newPart("big", fmt.Sprintf("%s leases against %s", thousands(big), thousands(small)))
	p.printf("Databases of %s and %s leases in the pool %s (`--pool`), made through the library (Manager.Recover\n"+
		"from listed holders, one transaction: %.1f s for %s; see test/bench/README.md), files %s and %s,\n"+
		"then observed by three gcs (every lease vacant: nothing is written after the third). K bundle containers\n"+
		"run, publishing on 127.0.1.(i+1), outside that pool. acquire and gc get a fresh copy of the database\n"+
		"before every sample (untimed, synced): of the observed one, but for gc-first, which starts from the\n"+
		"unobserved one and writes every lease's vacancy. The new lease is the lowest free alias (%s at %s leases).\n"+
		"Medians in ms over %d runs, with the floor program in the same iterations.\n",
		thousands(big), thousands(small), bigPool, bigMasters[big].took.Seconds(), thousands(big), fsize(big), fsize(small),
		lastOf(bigFirst, big+1), thousands(big), *runs)
	for _, r := range results {
		p.printf("\n### K=%d\n\nThe engine listed %d→%d containers; the floor: %s ms (peak RSS %s MiB).\n\n",
			r.k, r.c0, r.c1, ms(r.floor.median()), mib(r.floor.peakKB()))
		p.printf("| command | %s leases | %s leases | ratio | difference (ms) | − floor at %s (ms) | peak RSS %s | peak RSS %s | failures |\n",
			thousands(small), thousands(big), thousands(big), thousands(small), thousands(big))
		p.printf("|---|---|---|---|---|---|---|---|---|\n")
		for _, d := range bigDefs() {
			a, b := r.ss[bigKey{d.name, small}], r.ss[bigKey{d.name, big}]
			p.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", d.label, ms(a.median()), ms(b.median()), ratio(b.median(), a.median()),
				diff(b.median(), a.median()), diff(b.median(), r.floor.median()), rssCell(a.peakKB()), rssCell(b.peakKB()), a.failures()+b.failures())
			p.row(d.name, r.k, -1, small, a, "")
			p.row(d.name, r.k, -1, big, b, "")
		}
		p.row("floor", r.k, -1, -1, r.floor, "")
	}
	return p
}
