package test

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestDamagedDatabases: every kind of unreadable file is exit 6 from
// every command, with a one-line error and a hint, and stays
// byte-for-byte as it was.
func TestDamagedDatabases(t *testing.T) {
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.db")
	env := []string{"ALIASLEASE_DB=" + valid, "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=127.0.0.64/26"}
	for i := range 60 {
		mustCLI(t, env, "acquire", strings.Repeat("x", 100)+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	good := readFile(t, valid)
	rnd := make([]byte, 32<<10)
	rand.New(rand.NewSource(7)).Read(rnd)
	flipped := bytes.Clone(good)
	flipped[16+20] ^= 0xff // meta page 0, root page id: checksum fails
	flipped[4096+16+20] ^= 0xff
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	db.Close()
	files := map[string][]byte{
		"0 bytes":            {},
		"5 bytes":            []byte("hello"),
		"8 KiB of zeros":     make([]byte, 8<<10),
		"random bytes":       rnd,
		"valid cut in half":  good[:8*4096],
		"one page":           good[:4096],
		"cut to 11 pages":    good[:11*4096],
		"flipped meta pages": flipped,
		"another bbolt file": readFile(t, foreign),
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "leases.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			env := []string{"ALIASLEASE_DB=" + path, "ALIASLEASE_DOCKER=off"}
			for _, args := range [][]string{{"acquire", "a"}, {"release", "a"}, {"list"}} {
				r := cli(t, env, args...)
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				if r.code != 6 || r.stdout != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "aliaslease: error: database unreadable") ||
					strings.Contains(r.stderr, "goroutine") {
					t.Errorf("%s on %s: %v, want exit 6, an error line and a hint", args[0], name, r)
				}
			}
			if !bytes.Equal(readFile(t, path), content) {
				t.Errorf("the damaged file %s was changed", name)
			}
		})
	}
}

// TestHostileLockPaths: a symlink, FIFO or directory where the lock file
// should be is refused with a clear error, followed nowhere, waited on by
// nobody, and nothing is created.
func TestHostileLockPaths(t *testing.T) {
	for _, kind := range []string{"symlink", "fifo", "directory"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "leases.db")
			lock := db + ".lock"
			target := filepath.Join(dir, "target")
			switch kind {
			case "symlink":
				if err := os.Symlink(target, lock); err != nil {
					t.Fatal(err)
				}
			case "fifo":
				if err := syscall.Mkfifo(lock, 0o600); err != nil {
					t.Fatal(err)
				}
			case "directory":
				if err := os.Mkdir(lock, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			began := time.Now()
			r := cli(t, []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}, "--lock-timeout", "1s", "acquire", "a")
			if r.code != 8 || r.stdout != "" || !strings.Contains(r.stderr, "is not a regular file") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("acquire with the lock path a %s: %v, want exit 8 (unsafe) and one clear line", kind, r)
			}
			if time.Since(began) > 900*time.Millisecond {
				t.Errorf("acquire with the lock path a %s took %v: it waited", kind, time.Since(began))
			}
			for _, p := range []string{db, target} {
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Errorf("%s exists after the refusal: %v", p, err)
				}
			}
		})
	}
}

// needFlock skips the test when flock(1) is missing.
func needFlock(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
}

// holdLock takes the lock on path in flock(1), a separate process, as an
// operator would, and holds it until the end of the test.
func holdLock(t *testing.T, path string) {
	t.Helper()
	// Its output to a file, not to the runner's pipes: its sleep outlives
	// a killed flock, and a wait for the pipes would wait for the sleep.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { devNull.Close() })
	cmd := command("flock", nil, path, "sleep", "60")
	cmd.Stdout, cmd.Stderr = devNull, devNull
	// In a process group of its own, ended whole: the sleep holds the
	// lock too, and would outlive flock by a minute.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := startProc(t, cmd)
	t.Cleanup(func() { syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) })
}

// TestStuckLockHolder: a process that holds the lock and never lets go
// makes acquire exit 5 within the lock timeout plus half a second, naming
// the lock file. The holder is flock(1), a separate process, as an
// operator would use it.
func TestStuckLockHolder(t *testing.T) {
	needFlock(t)
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	mustCLI(t, env, "acquire", "a")
	holdLock(t, db+".lock")
	// Wait until flock(1) really holds it.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if r := cli(t, env, "--lock-timeout", "50ms", "list"); r.code == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("flock(1) never took the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	const timeout = time.Second
	for _, args := range [][]string{{"acquire", "b"}, {"release", "a"}, {"list"}} {
		began := time.Now()
		r := cli(t, env, append([]string{"--lock-timeout", timeout.String()}, args...)...)
		took := time.Since(began)
		if r.code != 5 || !strings.Contains(r.stderr, db+".lock") || r.stdout != "" {
			t.Errorf("%s under a stuck lock: %v, want exit 5 naming the lock file", args[0], r)
		}
		if took < timeout || took > timeout+500*time.Millisecond {
			t.Errorf("%s under a stuck lock gave up after %v, want between %v and %v", args[0], took, timeout, timeout+500*time.Millisecond)
		}
	}
}

// mountTmpfs mounts a tiny tmpfs (root only) and unmounts it at the end.
// Its root is 0700: a tmpfs is 1777 by default, a directory others can
// write, which aliaslease refuses to keep a database in.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "mode=0700,"+opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// TestReadOnlyDirectory: on a read-only file system acquire fails with a
// clear error and creates nothing; an existing database is left as it
// was and can still be listed.
func TestReadOnlyDirectory(t *testing.T) {
	dir := mountTmpfs(t, "size=256k")
	db := filepath.Join(dir, "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	mustCLI(t, env, "acquire", "a")
	before := readFile(t, db)
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v %s", err, out)
	}
	r := cli(t, env, "acquire", "b")
	if r.code != 1 || !strings.Contains(r.stderr, "read-only file system") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("acquire on a read-only file system: %v, want exit 1 with one clear line", r)
	}
	if list := mustCLI(t, env, "list"); !regexp.MustCompile(`(?m)^a +127\.0\.0\.16 `).MatchString(list) {
		t.Errorf("list on a read-only file system = %q", list)
	}
	if !bytes.Equal(before, readFile(t, db)) {
		t.Errorf("the database changed")
	}
	r = cli(t, []string{"ALIASLEASE_DB=" + filepath.Join(dir, "new", "leases.db"), "ALIASLEASE_DOCKER=off"}, "acquire", "a")
	if r.code != 1 || !strings.Contains(r.stderr, "read-only file system") {
		t.Errorf("creating a database on a read-only file system: %v, want exit 1", r)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("files on the read-only file system: %v, want the database and its lock", ents)
	}
}

// TestFullDisk: on a full file system, acquire fails with a clear error,
// nothing half-written is left, and the database opens unchanged
// afterwards with every lease it had.
func TestFullDisk(t *testing.T) {
	dir := mountTmpfs(t, "size=128k")
	db := filepath.Join(dir, "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=127.0.1.0/24"}
	mustCLI(t, env, "acquire", "first")
	// Fill the rest of the file system.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	// Leases with long slugs need new pages, which cannot be had.
	var failed result
	for i := range 200 {
		r := cli(t, env, "acquire", strings.Repeat("y", 120)+string(rune('a'+i%26))+string(rune('a'+i/26%26)))
		if r.code != 0 {
			failed = r
			break
		}
	}
	if failed.code != 1 || !strings.Contains(failed.stderr, "no space left on device") || strings.Count(failed.stderr, "\n") != 1 {
		t.Fatalf("acquire on a full disk: %v, want exit 1 with one clear line", failed)
	}
	before := checkDB(t, db)
	if left, _ := filepath.Glob(filepath.Join(dir, ".leases.db.creating-*")); len(left) != 0 {
		t.Errorf("half-written files left: %v", left)
	}
	os.Remove(filler)
	after := checkDB(t, db)
	if len(after) != len(before) || after["first"] != "127.0.1.0" {
		t.Errorf("after freeing space the database has %d leases (first on %q), had %d", len(after), after["first"], len(before))
	}
	mustCLI(t, env, "acquire", "later")

	// Creating a database on a full disk leaves nothing behind.
	dir2 := mountTmpfs(t, "size=16k")
	os.WriteFile(filepath.Join(dir2, "filler"), make([]byte, 16<<10), 0o600)
	r := cli(t, []string{"ALIASLEASE_DB=" + filepath.Join(dir2, "leases.db"), "ALIASLEASE_DOCKER=off"}, "acquire", "a")
	if r.code != 1 || !strings.Contains(r.stderr, "no space left on device") {
		t.Errorf("creating a database on a full disk: %v, want exit 1", r)
	}
	if left, _ := filepath.Glob(filepath.Join(dir2, "*leases.db*")); len(left) > 1 || len(left) == 1 && !strings.HasSuffix(left[0], ".lock") {
		t.Errorf("files left after a failed creation: %v", left)
	}
}
