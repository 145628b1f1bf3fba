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

// bigPart measures acquire, list and gc on a database of -big-leases
// leases against one of -small-leases leases in the same pool
// (127.1.0.0/16), with no bundle containers (K=0). Commands that write
// (acquire, gc) get a fresh copy of the database before every sample
// (untimed, synced), so every sample sees the same file.
func bigPart() *partOut {
	first := netip.MustParseAddr("127.1.0.0")
	sizes := []int{*smallLeases, *bigLeases}
	for _, n := range sizes {
		if n < 1 || n >= 65536 {
			fatalf("lease counts must be between 1 and 65,535 (the pool %s must keep free aliases): %d", bigPool, n)
		}
	}
	masters := map[int]string{}
	fillTook := map[int]time.Duration{}
	now := time.Now()
	for _, n := range sizes {
		db := filepath.Join(tmpDir, "big", fmt.Sprintf("master-%d", n), "leases.db")
		logf("  filling %d leases", n)
		fillTook[n] = fill(db, first, n, func(j int) string { return fmt.Sprintf("fill-%05d", j) }, now)
		masters[n] = db
		logf("  filled %d leases in %.2f s", n, fillTook[n].Seconds())
	}
	type cmdDef struct {
		name, label string
		writes      bool
		args        []string
		off         bool
	}
	defs := []cmdDef{
		{"acquire-on", "`acquire` (new lease, Docker on)", true, []string{"acquire", "--grace", "24h", "newcomer"}, false},
		{"acquire-off", "`acquire` (new lease, Docker off)", true, []string{"acquire", "newcomer"}, true},
		{"list-on", "`list` (Docker on)", false, []string{"list"}, false},
		{"list-off", "`list` (Docker off)", false, []string{"list"}, true},
		{"gc", "`gc --grace 24h` (Docker on, nothing to reclaim)", true, []string{"gc", "--grace", "24h"}, false},
	}
	type key struct {
		name string
		n    int
	}
	specOf := func(d cmdDef, n int) (cmdSpec, string) {
		db := masters[n]
		if d.writes {
			db = filepath.Join(tmpDir, "big", fmt.Sprintf("%s-%d", d.name, n), "leases.db")
		} else {
			db = filepath.Join(tmpDir, "big", fmt.Sprintf("read-%d", n), "leases.db")
		}
		env := dockerOn(db)
		if d.off {
			env = dockerOff(db)
		}
		return cmdSpec{env: append(env, "ALIASLEASE_POOL="+bigPool), argv: append([]string{bin}, d.args...)}, db
	}
	for _, n := range sizes {
		copyDB(masters[n], filepath.Join(tmpDir, "big", fmt.Sprintf("read-%d", n), "leases.db"))
	}
	// Warm-up and checks: the new lease is the lowest free alias, list
	// shows every lease, gc reclaims nothing.
	for _, n := range sizes {
		for _, d := range defs {
			c, db := specOf(d, n)
			if d.writes {
				copyDB(masters[n], db)
			}
			c.capture = true
			s := run(c)
			switch {
			case s.code != 0:
				fatalf("warm-up %s at %d leases: exit %d", d.name, n, s.code)
			case strings.HasPrefix(d.name, "acquire") && strings.TrimSpace(s.out) != lastOf(first, n+1).String():
				fatalf("warm-up %s at %d leases printed %q, want %s", d.name, n, s.out, lastOf(first, n+1))
			case d.name == "gc" && s.out != "":
				fatalf("warm-up gc at %d leases reclaimed: %s", n, firstLine(s.out))
			case strings.HasPrefix(d.name, "list") && strings.Count(s.out, "fill-") != n:
				fatalf("warm-up %s at %d leases listed %d leases", d.name, n, strings.Count(s.out, "fill-"))
			}
		}
	}
	c0 := engineContainers()
	ss := map[key]*series{}
	var order []key
	for _, n := range sizes {
		for _, d := range defs {
			k := key{d.name, n}
			ss[k] = &series{name: d.name}
			order = append(order, k)
		}
	}
	floor := &series{name: "floor"}
	order = append(order, key{"floor", 0})
	defOf := map[string]cmdDef{}
	for _, d := range defs {
		defOf[d.name] = d
	}
	for i := range *runs {
		for _, k := range shuffled(order) {
			if k.name == "floor" {
				floor.add(run(cmdSpec{argv: []string{floorBin, *sock}}))
				continue
			}
			d := defOf[k.name]
			c, db := specOf(d, k.n)
			if d.writes {
				copyDB(masters[k.n], db)
			}
			ss[k].add(run(c))
		}
		if (i+1)%5 == 0 || i+1 == *runs {
			logf("  big: %d of %d iterations", i+1, *runs)
		}
	}
	c1 := engineContainers()

	small, big := sizes[0], sizes[1]
	fsize := func(n int) string {
		fi, err := os.Stat(masters[n])
		if err != nil {
			return "?"
		}
		return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
	}
	p := newPart("big", fmt.Sprintf("%s leases against %s", thousands(big), thousands(small)))
	p.printf("Databases of %s and %s leases in the pool %s (`--pool`), made through the library (one Store,\n"+
		"one Acquire per lease, each its own transaction: %.1f s for %s; see test/bench/README.md), files\n"+
		"%s and %s. No bundle containers (K=0; the engine listed %d→%d containers). acquire and gc get a fresh\n"+
		"copy of the database before every sample (untimed, synced); the new lease is the lowest free alias\n"+
		"(%s at %s leases). Medians in ms over %d runs; the floor program ran in the same iterations: %s ms\n"+
		"(peak RSS %s MiB).\n\n",
		thousands(big), thousands(small), bigPool, fillTook[big].Seconds(), thousands(big), fsize(big), fsize(small), c0, c1,
		lastOf(first, big+1), thousands(big), *runs, ms(floor.median()), mib(floor.peakKB()))
	p.printf("| command | %s leases | %s leases | ratio | difference (ms) | − floor at %s (ms) | peak RSS %s | peak RSS %s | failures |\n",
		thousands(small), thousands(big), thousands(big), thousands(small), thousands(big))
	p.printf("|---|---|---|---|---|---|---|---|---|\n")
	for _, d := range defs {
		a, b := ss[key{d.name, small}], ss[key{d.name, big}]
		p.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", d.label, ms(a.median()), ms(b.median()), ratio(b.median(), a.median()),
			diff(b.median(), a.median()), diff(b.median(), floor.median()), rssCell(a.peakKB()), rssCell(b.peakKB()), a.failures()+b.failures())
		p.row(d.name, 0, -1, small, a, "")
		p.row(d.name, 0, -1, big, b, "")
	}
	p.row("floor", 0, -1, -1, floor, "")
	return p
}
