package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
)

// sharePool is the share part's pool, apart from every other part's.
const sharePool = "127.0.2.0/26"

// shareGroup is a group of this host to make the bench's shared place for
// (the group need have no member: only the place's checks are measured).
func shareGroup() string {
	for _, g := range []string{"docker", "daemon", "nogroup"} {
		if _, err := user.LookupGroup(g); err == nil {
			return g
		}
	}
	fatalf("share part: no group to share with (docker, daemon, nogroup)")
	return ""
}

// sharePart measures acquire with and without a shared place, in the same
// iterations, Docker on with k bundle containers up: a new lease (released
// again, untimed, after each) and a renewal. With the place, a decision
// also locks it, reads every claim, and writes the lease's claim (made
// aside, synced, renamed) before the commit.
func sharePart(k int) *partOut {
	dir := filepath.Join(tmpDir, "share")
	// The place where share puts it is on tmpfs (/run); so is /dev/shm.
	base, err := os.MkdirTemp("/dev/shm", "aliaslease-bench")
	if err != nil {
		fatalf("share part: %v", err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)
	shared := filepath.Join(base, "run", "shared")
	group := shareGroup()
	mk := run(cmdSpec{argv: []string{bin, "share", "--group", group, "--boot-config", filepath.Join(dir, "tmpfiles.conf")},
		env: []string{"ALIASLEASE_SHARED_DIR=" + shared}, capture: true})
	if mk.code != 0 {
		fatalf("share part: aliaslease share: exit %d", mk.code)
	}
	envs := map[string][]string{
		"plain":  append(dockerOn(filepath.Join(dir, "plain", "leases.db")), "ALIASLEASE_POOL="+sharePool, "ALIASLEASE_SHARED_DIR="+filepath.Join(dir, "none")),
		"shared": append(dockerOn(filepath.Join(dir, "shared", "leases.db")), "ALIASLEASE_POOL="+sharePool, "ALIASLEASE_SHARED_DIR="+shared),
	}
	for _, env := range envs { // the databases, each with the lease renewed below
		if s := run(cmdSpec{env: env, argv: []string{bin, "acquire", "--no-ifup", "keep"}}); s.code != 0 {
			fatalf("share part: warm-up acquire: exit %d", s.code)
		}
	}
	names := []string{"new-plain", "new-shared", "renew-plain", "renew-shared"}
	ss := map[string]*series{}
	for _, n := range names {
		ss[n] = &series{name: n}
	}
	for i := range *runs {
		for _, name := range shuffled(names) {
			env := envs[map[bool]string{true: "shared", false: "plain"}[name == "new-shared" || name == "renew-shared"]]
			slug := "keep"
			if name == "new-plain" || name == "new-shared" {
				slug = fmt.Sprintf("s%d", i)
			}
			ss[name].add(run(cmdSpec{env: env, argv: []string{bin, "acquire", "--no-ifup", slug}}))
			if slug != "keep" {
				run(cmdSpec{env: env, argv: []string{bin, "release", slug}})
			}
		}
	}
	p := newPart("share", fmt.Sprintf("acquire with and without a shared place (%d containers)", k))
	p.printf("`aliaslease acquire --no-ifup`, Docker on, %d bundle containers up, pool %s; the same commands with\n"+
		"ALIASLEASE_SHARED_DIR naming a place `aliaslease share --group %s` made on tmpfs (/dev/shm, as /run is), and naming\n"+
		"nothing, in the same\n"+
		"shuffled iterations. A new lease is released again (untimed) after each. Medians in ms over %d runs.\n\n", k, sharePool, group, *runs)
	p.printf("| command | without share | with share | difference |\n|---|---|---|---|\n")
	for _, kind := range []string{"new", "renew"} {
		a, b := ss[kind+"-plain"], ss[kind+"-shared"]
		p.printf("| acquire (%s lease) | %s | %s | %s |\n", kind, ms(a.median()), ms(b.median()), diff(b.median(), a.median()))
		p.row("acquire-"+kind+"-plain", k, -1, -1, a, "")
		p.row("acquire-"+kind+"-shared", k, -1, -1, b, "")
	}
	return p
}
