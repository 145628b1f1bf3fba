package main

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func fileHash(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// lastOf returns the address n-1 above first.
func lastOf(first netip.Addr, n int) netip.Addr {
	a := first.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(n - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// gcPart measures `gc --grace 1h` on a database of -gc-leases leases with
// k bundle containers up, against the floor program. The pool starts at
// 127.0.1.0, and the lease of alias 127.0.1.(i+1) belongs to slug
// bench-i, the label of the container publishing there: those k leases
// are live, the others pending (renewed at fill time, within the grace),
// so nothing is reclaimed and every run does the same work, as a cron gc
// on a busy host would.
func gcPart(k int) *partOut {
	n := *gcLeases
	first := netip.MustParseAddr("127.0.1.0")
	size := max(1024, n+24)
	poolSpec := fmt.Sprintf("%s-%s", first, lastOf(first, size))
	if k+1 > n {
		fatalf("-gc-leases %d must exceed -gc-k %d", n, k)
	}
	db := filepath.Join(tmpDir, "gc", "leases.db")
	took := fill(db, first, n, func(j int) string {
		if j >= 1 && j <= k {
			return fmt.Sprintf("bench-%d", j-1)
		}
		return fmt.Sprintf("lease-%04d", j)
	}, time.Now())
	logf("  filled %d leases in %.2f s", n, took.Seconds())
	env := append(dockerOn(db), "ALIASLEASE_POOL="+poolSpec)
	gcCmd := cmdSpec{env: env, argv: []string{bin, "gc", "--grace", "1h"}}
	listCmd := cmdSpec{env: env, argv: []string{bin, "list"}}
	// Warm-up: the first gc records held_at for the live leases (a
	// write); later ones within a quarter of the grace write nothing.
	if s := run(cmdSpec{env: env, argv: gcCmd.argv, capture: true}); s.code != 0 || s.out != "" {
		fatalf("warm-up gc: exit %d, printed %q", s.code, firstLine(s.out))
	}
	if s := run(cmdSpec{env: env, argv: listCmd.argv, capture: true}); s.code != 0 {
		fatalf("warm-up list: exit %d", s.code)
	} else {
		live := strings.Count(s.out, " live ")
		logf("  list: %d lines, %d live", strings.Count(s.out, "\n"), live)
	}
	c0 := engineContainers()
	before := fileHash(db)
	names := []string{"gc", "floor", "list", "curl-list", "inproc-list"}
	ss := map[string]*series{}
	for _, name := range names {
		ss[name] = &series{name: name}
	}
	reclaimed := 0
	for i := range *runs {
		for _, name := range shuffled(names) {
			var s sample
			switch name {
			case "gc":
				s = run(cmdSpec{env: env, argv: gcCmd.argv, capture: true})
				if s.out != "" {
					reclaimed++
				}
			case "floor":
				s = run(cmdSpec{argv: []string{floorBin, *sock}})
			case "list":
				s = run(listCmd)
			case "curl-list":
				s = run(cmdSpec{argv: []string{"curl", "-sf", "-o", "/dev/null", "--unix-socket", *sock, "http://docker/v1.41/containers/json?all=1"}})
			case "inproc-list":
				s = rawList()
			}
			ss[name].add(s)
		}
		if (i+1)%5 == 0 || i+1 == *runs {
			logf("  gc: %d of %d iterations", i+1, *runs)
		}
	}
	wrote := "no"
	if fileHash(db) != before {
		wrote = "**yes**"
	}
	c1 := engineContainers()

	p := newPart("gc", fmt.Sprintf("gc with %s leases and %d containers against the floor", thousands(n), k))
	p.printf("Database of %s leases (pool %s) made through the library (one Store, one Acquire per lease;\n"+
		"%.2f s); the leases of the %d containers' aliases carry their slugs, so they are live, the rest pending.\n"+
		"`aliaslease gc --grace 1h`, Docker on, after one untimed gc (which records held_at once). Engine listed\n"+
		"%d→%d containers. The measured gc runs changed the file: %s; gc printed a reclaim in %d runs.\n"+
		"Medians in ms over %d runs.\n\n", thousands(n), poolSpec, took.Seconds(), k, c0, c1, wrote, reclaimed, *runs)
	g, f := ss["gc"], ss["floor"]
	p.printf("| command | median | peak RSS (MiB) | failures |\n|---|---|---|---|\n")
	for _, name := range names {
		p.printf("| %s | %s | %s | %d |\n", map[string]string{
			"gc": "`aliaslease gc --grace 1h`", "floor": "floor program", "list": "`aliaslease list` (Docker on)",
			"curl-list": "raw list (curl)", "inproc-list": "raw list (in-process)"}[name],
			ms(ss[name].median()), rssCell(ss[name].peakKB()), ss[name].failures())
		p.row(name, k, -1, n, ss[name], "")
	}
	p.printf("\n**gc − floor: %s ms** (gc / floor %s); gc − in-process list: %s ms; list − floor: %s ms.\n",
		diff(g.median(), f.median()), ratio(g.median(), f.median()), diff(g.median(), ss["inproc-list"].median()),
		diff(ss["list"].median(), f.median()))
	return p
}
