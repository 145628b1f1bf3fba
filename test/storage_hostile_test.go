package test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aliaslease/aliaslease/internal/fstree"
)

// The findings of issue #12, one test each, through the built CLI.

// alias4 is an alias as the index keys it.
func alias4(a byte) []byte { return []byte{127, 0, 0, a} }

// TestCraftedTwoSlugsOneAlias: a database whose leases put two slugs on
// one alias is refused (exit 6) by acquire of either slug, Docker off or
// on, and left as it was: renewal checks the alias index, and a file
// written by another program is read whole before it is written.
func TestCraftedTwoSlugsOneAlias(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	mustCLI(t, env, "acquire", "a")
	mustCLI(t, env, "acquire", "b")
	storageBolt(t, db, func(tx *bolt.Tx) error {
		leases, aliases := tx.Bucket([]byte("leases")), tx.Bucket([]byte("aliases"))
		if err := leases.Put([]byte("b"), bytes.Clone(leases.Get([]byte("a")))); err != nil { // b on .16 too
			return err
		}
		return aliases.Delete(alias4(17))
	})
	before := readFile(t, db)
	engine := newFakeEngine(t, "").env()
	for _, mode := range []string{"off", "on"} {
		for _, slug := range []string{"a", "b"} {
			r := cliBounded(t, 10*time.Second, append(append([]string{"ALIASLEASE_DB=" + db}, engine...), "ALIASLEASE_DOCKER="+mode), "acquire", slug)
			if r.code != 6 || r.stdout != "" || !strings.Contains(r.stderr, "database unreadable") {
				t.Errorf("acquire %s --docker %s on two slugs on one alias: %v, want exit 6", slug, mode, r)
			}
		}
	}
	if !bytes.Equal(readFile(t, db), before) {
		t.Errorf("the crafted database was written to")
	}
}

// TestDamagedRecordUnderAcquire: one damaged lease record makes acquire
// exit 6, with Docker off or on, for a renewal of another slug and for a
// new lease, as list does; the file is untouched.
func TestDamagedRecordUnderAcquire(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	mustCLI(t, env, "acquire", "a")
	mustCLI(t, env, "acquire", "b")
	storageBolt(t, db, func(tx *bolt.Tx) error { return tx.Bucket([]byte("leases")).Put([]byte("b"), []byte{9, 9}) })
	before := readFile(t, db)
	engine := newFakeEngine(t, "").env()
	for _, mode := range []string{"off", "auto"} {
		for _, args := range [][]string{{"acquire", "a"}, {"acquire", "c"}, {"list"}} {
			r := cliBounded(t, 10*time.Second, append(append([]string{"ALIASLEASE_DB=" + db}, engine...), "ALIASLEASE_DOCKER="+mode), args...)
			if r.code != 6 || r.stdout != "" {
				t.Errorf("%s --docker %s with a damaged record: %v, want exit 6", strings.Join(args, " "), mode, r)
			}
		}
	}
	if !bytes.Equal(readFile(t, db), before) {
		t.Errorf("the damaged database was written to")
	}
}

// TestHardLinkAtLockPath: a hard link planted at <db>.lock is refused by
// every command, naming the lock file; the linked file is never written.
func TestHardLinkAtLockPath(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "state")
	db := filepath.Join(dir, "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	mustCLI(t, env, "acquire", "a")
	victim := filepath.Join(base, "passwd")
	if err := os.WriteFile(victim, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(db + ".lock")
	if err := os.Link(victim, db+".lock"); err != nil {
		t.Fatal(err)
	}
	before := fstree.Snapshot(base)
	for _, args := range [][]string{{"acquire", "b"}, {"acquire", "a"}, {"release", "a"}, {"list"}} {
		r := cliBounded(t, 10*time.Second, env, args...)
		if r.code == 0 || !strings.Contains(r.stderr, db+".lock") || !strings.Contains(r.stderr, "links") {
			t.Errorf("%s with a hard link at the lock path: %v, want a refusal naming it", args[0], r)
		}
	}
	storageSameTree(t, "after the refusals", before, fstree.Snapshot(base))
}

// TestRecoverOnFIFO: a FIFO at the database path never blocks recover:
// it is refused within the lock timeout, and SIGTERM ends a recover that
// waits for the lock.
func TestRecoverOnFIFO(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "leases.db")
	env := append([]string{"ALIASLEASE_DB=" + db}, newFakeEngine(t, "").env()...)
	if err := syscall.Mkfifo(db, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"recover", "--from-docker"}, {"recover", "--from-docker", "--force"}} {
		p := startCLI(t, env, append([]string{"--lock-timeout", "2s"}, args...)...)
		time.Sleep(300 * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGTERM)
		r, killed := p.waitFor(3 * time.Second)
		if killed || r.code == 0 {
			t.Errorf("%s on a FIFO: %v (killed: %v), want it refused or ended by SIGTERM", strings.Join(args, " "), r, killed)
		}
		if fi, err := os.Lstat(db); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the FIFO at the path: %v, %v; want it left there", fi, err)
		}
	}
	needFlock(t)
	os.Remove(db)
	if err := os.WriteFile(db+".lock", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	holdLock(t, db+".lock")
	time.Sleep(200 * time.Millisecond)
	p := startCLI(t, env, "--lock-timeout", "30s", "recover", "--from-docker")
	time.Sleep(500 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if r, killed := p.waitFor(3 * time.Second); killed || r.code != 143 {
		t.Errorf("recover waiting for the lock, after SIGTERM: %v (killed: %v), want exit 143", r, killed)
	}
}

// TestRecoverForceRefusesNonDatabases: recover --force moves aside only a
// regular, single-link file that is a bbolt database or empty; a device
// node, a text file, a FIFO, a directory or a hard-linked database stays
// where it is, no lock file appears beside it, and no hint suggests
// --force for it.
func TestRecoverForceRefusesNonDatabases(t *testing.T) {
	engine := newFakeEngine(t, "").env()
	kinds := []string{"device node", "text file", "fifo", "directory", "hard-linked database"}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "state")
			db := filepath.Join(dir, "leases.db")
			env := append([]string{"ALIASLEASE_DB=" + db}, engine...)
			os.Mkdir(dir, 0o700)
			if err := plant(t, kind, db, env); err != nil {
				t.Fatal(err)
			}
			before := fstree.Snapshot(base)
			for _, force := range []bool{false, true} {
				args := []string{"--lock-timeout", "2s", "recover", "--from-docker"}
				if force {
					args = append(args, "--force")
				}
				r := cliBounded(t, 10*time.Second, env, args...)
				if r.code == 0 || r.code == 130 || r.code == 143 || strings.Contains(r.stderr, "--force") || r.stdout != "" {
					t.Errorf("%s on a %s: %v, want a refusal without a --force hint", strings.Join(args[2:], " "), kind, r)
				}
			}
			storageSameTree(t, "after the refusals", before, fstree.Snapshot(base))
		})
	}
}

// plant puts a thing of kind at db for the recover tests.
func plant(t *testing.T, kind, db string, env []string) error {
	t.Helper()
	switch kind {
	case "device node":
		if !isRoot() {
			t.Skip("needs root to make a device node")
		}
		return syscall.Mknod(db, syscall.S_IFCHR|0o600, 1<<8|3) // as /dev/null
	case "text file":
		return os.WriteFile(db, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	case "fifo":
		return syscall.Mkfifo(db, 0o600)
	case "directory":
		return os.Mkdir(db, 0o700)
	case "hard-linked database":
		mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "a")
		os.Remove(db + ".lock")
		return os.Link(db, filepath.Join(filepath.Dir(db), "..", "elsewhere"))
	}
	return nil
}

// TestRecoverForceMovesDatabases: what recover --force may move aside
// is an empty file and a damaged database, whose refusal without --force
// says so; it moves it intact and rebuilds.
func TestRecoverForceMovesDatabases(t *testing.T) {
	engine := newFakeEngine(t, "").env()
	for _, kind := range []string{"empty file", "damaged database"} {
		t.Run(kind, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "leases.db")
			env := append([]string{"ALIASLEASE_DB=" + db}, engine...)
			content := []byte{}
			if kind == "damaged database" {
				mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "a")
				content = readFile(t, db)[:3*4096]
			}
			if err := os.WriteFile(db, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if r := cliBounded(t, 10*time.Second, env, "recover", "--from-docker"); r.code != 6 || !strings.Contains(r.stderr, "--force moves it aside") {
				t.Errorf("recover on a %s: %v, want exit 6 with the hint to use --force", kind, r)
			}
			r := cliBounded(t, 10*time.Second, env, "recover", "--from-docker", "--force")
			aside, _ := filepath.Glob(db + ".aside-*")
			if r.code != 0 || len(aside) != 1 || !bytes.Equal(readFile(t, aside[0]), content) {
				t.Errorf("recover --force on a %s: %v, moved aside %v", kind, r, aside)
			}
			checkDB(t, db)
		})
	}
}

// TestReadOnlyCommandsCreateNothing: list, log, release of a missing
// lease, gc --dry-run, doctor and completion create no lock file and
// nothing else: not beside a text file, not beside a database that has
// no lock file, not where nothing is. acquire creates none beside a file
// that is not a database.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	engine := newFakeEngine(t, "").env()
	commands := [][]string{{"list"}, {"log"}, {"release", "x"}, {"gc", "--dry-run"}, {"doctor"}, {"__complete", "release", ""}, {"list", "--json"}}
	for _, kind := range []string{"text file", "database without lock file", "nothing"} {
		t.Run(kind, func(t *testing.T) {
			base := t.TempDir()
			db := filepath.Join(base, "leases.db")
			env := append([]string{"ALIASLEASE_DB=" + db}, engine...)
			cmds := commands
			switch kind {
			case "text file":
				if err := os.WriteFile(db, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				cmds = append(cmds[:len(cmds):len(cmds)], []string{"acquire", "a"})
			case "database without lock file":
				mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "a")
				os.Remove(db + ".lock")
			case "nothing":
				db = filepath.Join(base, "sub", "leases.db")
				env[0] = "ALIASLEASE_DB=" + db
			}
			before := fstree.Snapshot(base)
			for _, args := range cmds {
				r := cliBounded(t, 10*time.Second, env, args...)
				if strings.Contains(r.stderr, "goroutine") {
					t.Errorf("%s: %v", args[0], r)
				}
				storageSameTree(t, strings.Join(args, " ")+" on "+kind, before, fstree.Snapshot(base))
			}
		})
	}
}

// TestSquattedDirectory: a database directory another user could write
// (world-writable, sticky or not, group-writable, or another user's) is
// refused, naming the directory and the fix, and nothing is created in
// it.
func TestSquattedDirectory(t *testing.T) {
	tests := []struct {
		name  string
		mode  os.FileMode
		owner int // -1: the test's own
	}{
		{"world-writable", 0o777, -1},
		{"sticky world-writable", 0o777 | os.ModeSticky, -1},
		{"group-writable", 0o770, -1},
		{"another user's", 0o700, 65534},
		{"another user's, world-writable", 0o777, 65534},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.owner >= 0 && !isRoot() {
				t.Skip("needs root to give a directory to another user")
			}
			base := t.TempDir()
			dir := filepath.Join(base, "squatted")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			if tt.owner >= 0 {
				if err := os.Chown(dir, tt.owner, tt.owner); err != nil {
					t.Fatal(err)
				}
			}
			before := fstree.Snapshot(base)
			db := filepath.Join(dir, "leases.db")
			for _, args := range [][]string{{"acquire", "a"}, {"list"}, {"release", "a"}} {
				r := cliBounded(t, 10*time.Second, []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}, args...)
				if r.code != 8 || !strings.Contains(r.stderr, "database directory "+dir) || !strings.Contains(r.stderr, "use a directory of your own") {
					t.Errorf("%s in a %s directory: %v, want exit 8 naming it and the fix", args[0], tt.name, r)
				}
			}
			storageSameTree(t, "after the refusals", before, fstree.Snapshot(base))
		})
	}
}

// TestListDisagreeingRecords: list, which reads every record, refuses a
// database whose records and alias index disagree (two slugs' aliases
// swapped in their records, the index untouched), in every format: exit
// 6, nothing on stdout, the file as it was.
func TestListDisagreeingRecords(t *testing.T) {
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	mustCLI(t, env, "acquire", "a") // 127.0.0.16
	mustCLI(t, env, "acquire", "b") // 127.0.0.17
	storageBolt(t, db, func(tx *bolt.Tx) error {
		leases := tx.Bucket([]byte("leases"))
		a, b := bytes.Clone(leases.Get([]byte("a"))), bytes.Clone(leases.Get([]byte("b")))
		copy(a[1:5], alias4(17))
		copy(b[1:5], alias4(16))
		if err := leases.Put([]byte("a"), a); err != nil {
			return err
		}
		return leases.Put([]byte("b"), b)
	})
	before := readFile(t, db)
	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"list", "--format", "{{.Slug}}"}} {
		r := cli(t, env, args...)
		if r.code != 6 || r.stdout != "" || !strings.Contains(r.stderr, "database unreadable") {
			t.Errorf("aliaslease %s on records that disagree with the index: %v, want exit 6, nothing on stdout", strings.Join(args, " "), r)
		}
	}
	if !bytes.Equal(before, readFile(t, db)) {
		t.Errorf("list changed the database")
	}
}
