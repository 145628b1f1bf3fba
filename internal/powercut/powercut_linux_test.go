//go:build linux

package powercut

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMain runs the helper workloads when the test binary is started as
// a helper: mmap'ing a file served by this very process could deadlock
// the Go runtime (a page fault is not a system call), so whatever maps
// files of the mount runs in a child process.
func TestMain(m *testing.M) {
	if h := os.Getenv("POWERCUT_HELPER"); h != "" {
		if err := helper(h, os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// mount mounts a simulator over a fresh lower directory (filled by fill,
// if not nil) and returns it; the test is skipped, with the reason, where
// FUSE is not available, and fails instead under ALIASLEASE_TEST_FUSE=1.
func mount(t *testing.T, fill func(lower string)) *FS {
	t.Helper()
	lower, mnt := t.TempDir(), t.TempDir()
	if fill != nil {
		fill(lower)
	}
	skip := t.Skip
	if os.Getenv("ALIASLEASE_TEST_FUSE") == "1" {
		skip = t.Fatal
	}
	if err := Available(); err != nil {
		skip("FUSE is not available: ", err)
	}
	f, err := Mount(lower, mnt, nil)
	if err != nil {
		skip("FUSE is not available: ", err)
	}
	t.Cleanup(func() { f.Cut() })
	return f
}

func (f *FS) path(name string) string { return filepath.Join(f.mnt, name) }

func writeFile(t *testing.T, path, data string, sync bool) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := fh.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func syncDir(t *testing.T, path string) {
	t.Helper()
	d, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

func cut(t *testing.T, f *FS) {
	t.Helper()
	if err := f.Cut(); err != nil {
		t.Fatal(err)
	}
}

// tree lists the lower directory: path → content (files), "dir" or
// "-> target".
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case info.IsDir():
			out[rel] = "dir"
		case info.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantTree(t *testing.T, root string, want map[string]string) {
	t.Helper()
	got := tree(t, root)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the cut the disk holds\n\t%v\nwant\n\t%v", got, want)
	}
}

func fill(files map[string]string) func(string) {
	return func(lower string) {
		for name, data := range files {
			p := filepath.Join(lower, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				panic(err)
			}
		}
	}
}

// The semantics one by one: each case does something on the mount, cuts,
// and says what the disk holds.
func TestModel(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string // the lower directory before
		do    func(t *testing.T, f *FS)
		want  map[string]string // the lower directory after the cut
	}{
		{"unsynced write lost", map[string]string{"a": "old"}, func(t *testing.T, f *FS) {
			writeFile(t, f.path("a"), "new", false)
			if b, _ := os.ReadFile(f.path("a")); string(b) != "new" {
				t.Errorf("the mount reads %q before the cut, want what was written", b)
			}
		}, map[string]string{"a": "old"}},
		{"synced write stays", map[string]string{"a": "old"}, func(t *testing.T, f *FS) {
			writeFile(t, f.path("a"), "new", true)
		}, map[string]string{"a": "new"}},
		{"fdatasync is enough for data", map[string]string{"a": "old"}, func(t *testing.T, f *FS) {
			fh, _ := os.OpenFile(f.path("a"), os.O_RDWR, 0)
			defer fh.Close()
			fh.WriteAt([]byte("NEW!"), 0)
			if err := syscall.Fdatasync(int(fh.Fd())); err != nil {
				t.Fatal(err)
			}
			fh.WriteAt([]byte("xx"), 4) // after the sync: lost
		}, map[string]string{"a": "NEW!"}},
		{"synced file, unsynced directory: gone", nil, func(t *testing.T, f *FS) {
			writeFile(t, f.path("a"), "data", true)
		}, map[string]string{}},
		{"synced directory, unsynced file: there, empty", nil, func(t *testing.T, f *FS) {
			writeFile(t, f.path("a"), "data", false)
			syncDir(t, f.mnt)
		}, map[string]string{"a": ""}},
		{"both synced", nil, func(t *testing.T, f *FS) {
			writeFile(t, f.path("a"), "data", true)
			syncDir(t, f.mnt)
		}, map[string]string{"a": "data"}},
		{"rename not synced reverts", map[string]string{"a": "v1"}, func(t *testing.T, f *FS) {
			writeFile(t, f.path("tmp"), "v2", true)
			if err := os.Rename(f.path("tmp"), f.path("a")); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"a": "v1"}},
		{"rename synced stays", map[string]string{"a": "v1"}, func(t *testing.T, f *FS) {
			writeFile(t, f.path("tmp"), "v2", true)
			os.Rename(f.path("tmp"), f.path("a"))
			syncDir(t, f.mnt)
		}, map[string]string{"a": "v2"}},
		{"rename of a file whose data was not synced: empty", map[string]string{"a": "v1"}, func(t *testing.T, f *FS) {
			writeFile(t, f.path("tmp"), "v2", false)
			os.Rename(f.path("tmp"), f.path("a"))
			syncDir(t, f.mnt)
		}, map[string]string{"a": ""}},
		{"unlink not synced comes back", map[string]string{"a": "v1"}, func(t *testing.T, f *FS) {
			os.Remove(f.path("a"))
		}, map[string]string{"a": "v1"}},
		{"unlink synced", map[string]string{"a": "v1", "b": "v2"}, func(t *testing.T, f *FS) {
			os.Remove(f.path("a"))
			syncDir(t, f.mnt)
		}, map[string]string{"b": "v2"}},
		{"data synced through an unlinked, then restored, name", map[string]string{"a": "v1"}, func(t *testing.T, f *FS) {
			// The inode on the disk is the same whatever its volatile names.
			os.Rename(f.path("a"), f.path("b"))
			writeFile(t, f.path("b"), "v2", true)
		}, map[string]string{"a": "v2"}},
		{"new directory not synced in its parent takes its contents", nil, func(t *testing.T, f *FS) {
			os.Mkdir(f.path("d"), 0o700)
			writeFile(t, f.path("d/a"), "data", true)
			syncDir(t, f.path("d"))
		}, map[string]string{}},
		{"new directory synced in its parent, contents not", nil, func(t *testing.T, f *FS) {
			os.Mkdir(f.path("d"), 0o700)
			writeFile(t, f.path("d/a"), "data", true)
			syncDir(t, f.mnt)
		}, map[string]string{"d": "dir"}},
		{"new directory and contents synced", nil, func(t *testing.T, f *FS) {
			os.Mkdir(f.path("d"), 0o700)
			writeFile(t, f.path("d/a"), "data", true)
			syncDir(t, f.path("d"))
			syncDir(t, f.mnt)
		}, map[string]string{"d": "dir", "d/a": "data"}},
		{"hard link and symlink synced", map[string]string{"a": "v1"}, func(t *testing.T, f *FS) {
			if err := os.Link(f.path("a"), f.path("b")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("a", f.path("c")); err != nil {
				t.Fatal(err)
			}
			syncDir(t, f.mnt)
		}, map[string]string{"a": "v1", "b": "v1", "c": "-> a"}},
		{"truncate not synced", map[string]string{"a": "long content"}, func(t *testing.T, f *FS) {
			os.Truncate(f.path("a"), 4)
		}, map[string]string{"a": "long content"}},
		{"truncate synced", map[string]string{"a": "long content"}, func(t *testing.T, f *FS) {
			fh, _ := os.OpenFile(f.path("a"), os.O_RDWR, 0)
			defer fh.Close()
			fh.Truncate(4)
			fh.Sync()
		}, map[string]string{"a": "long"}},
		{"sync(2) makes everything durable", nil, func(t *testing.T, f *FS) {
			os.Mkdir(f.path("d"), 0o700)
			writeFile(t, f.path("d/a"), "data", false)
			f.Sync()
			writeFile(t, f.path("d/a"), "later", false)
		}, map[string]string{"d": "dir", "d/a": "data"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mount(t, fill(c.files))
			c.do(t, f)
			cut(t, f)
			wantTree(t, f.lower, c.want)
		})
	}
}

// Modes: fsync makes a chmod durable, fdatasync does not; a directory
// fsync writes the inodes it names as they are.
func TestModelAttributes(t *testing.T) {
	f := mount(t, fill(map[string]string{"a": "x", "b": "y"}))
	for _, name := range []string{"a", "b"} {
		if err := os.Chmod(f.path(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fa, _ := os.OpenFile(f.path("a"), os.O_RDWR, 0)
	fa.Sync()
	fa.Close()
	fb, _ := os.OpenFile(f.path("b"), os.O_RDWR, 0)
	syscall.Fdatasync(int(fb.Fd()))
	fb.Close()
	fc, _ := os.OpenFile(f.path("c"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	fc.Close()
	syncDir(t, f.mnt)
	cut(t, f)
	for name, want := range map[string]os.FileMode{"a": 0o600, "b": 0o644, "c": 0o640} {
		st, err := os.Stat(filepath.Join(f.lower, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v after the cut, want %v", name, st.Mode().Perm(), want)
		}
	}
}

// Writeback with probability 1 is sync(2); with 0 it does nothing.
func TestWriteback(t *testing.T) {
	for _, p := range []float64{0, 1} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			f := mount(t, fill(map[string]string{"a": "old"}))
			writeFile(t, f.path("a"), "new", false)
			writeFile(t, f.path("b"), strings.Repeat("b", 10000), false)
			f.Writeback(rand.New(rand.NewSource(1)), p)
			cut(t, f)
			want := map[string]string{"a": "old"}
			if p == 1 {
				want = map[string]string{"a": "new", "b": strings.Repeat("b", 10000)}
			}
			wantTree(t, f.lower, want)
		})
	}
	// In between, a file's pages reach the disk independently: each page
	// of a rewrite is either old or new, never anything else.
	t.Run("torn", func(t *testing.T) {
		old, new := bytes.Repeat([]byte("o"), 8*4096), bytes.Repeat([]byte("n"), 8*4096)
		f := mount(t, fill(map[string]string{"a": string(old)}))
		writeFile(t, f.path("a"), string(new), false)
		f.Writeback(rand.New(rand.NewSource(2)), 0.5)
		st := f.Stats()
		cut(t, f)
		got := readLower(t, f, "a")
		if len(got) != len(old) {
			t.Fatalf("size %d after the cut, want %d", len(got), len(old))
		}
		news := 0
		for pg := 0; pg < 8; pg++ {
			b := got[pg*4096 : (pg+1)*4096]
			switch {
			case bytes.Equal(b, new[:4096]):
				news++
			case !bytes.Equal(b, old[:4096]):
				t.Errorf("page %d is neither old nor new", pg)
			}
		}
		if news != st.WritebackPages || news == 0 || news == 8 {
			t.Errorf("%d new pages on the disk, %d written back; want some but not all", news, st.WritebackPages)
		}
	})
}

func readLower(t *testing.T, f *FS, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.lower, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// After the power goes off every request fails; PowerOffAtSync cuts at an
// exact sync call, which is not applied.
func TestPowerOff(t *testing.T) {
	f := mount(t, fill(map[string]string{"a": "v0"}))
	fh, err := os.OpenFile(f.path("a"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f.PowerOffAtSync(2)
	fh.WriteAt([]byte("v1"), 0)
	if err := fh.Sync(); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	fh.WriteAt([]byte("v2"), 0)
	if err := fh.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("second sync: %v, want EIO", err)
	}
	if _, err := fh.WriteAt([]byte("v3"), 0); !errors.Is(err, syscall.EIO) {
		t.Errorf("write after the power went off: %v, want EIO", err)
	}
	if _, err := os.Stat(f.path("b")); !errors.Is(err, syscall.EIO) {
		t.Errorf("lookup after the power went off: %v, want EIO", err)
	}
	if got := f.Stats().CutAtSync; got != 2 {
		t.Errorf("CutAtSync = %d, want 2", got)
	}
	fh.Close()
	cut(t, f)
	wantTree(t, f.lower, map[string]string{"a": "v1"})
}

// flock(2) is the kernel's: two open files conflict, as on a disk.
func TestFlock(t *testing.T) {
	f := mount(t, fill(map[string]string{"lock": ""}))
	a, _ := os.Open(f.path("lock"))
	b, _ := os.Open(f.path("lock"))
	defer a.Close()
	defer b.Close()
	if err := syscall.Flock(int(a.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(b.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("second flock = %v, want EWOULDBLOCK", err)
	}
	// Another process too: flock(1) if there is one.
	if _, err := exec.LookPath("flock"); err == nil {
		if err := exec.Command("flock", "-n", f.path("lock"), "true").Run(); err == nil {
			t.Errorf("flock(1) took a lock this process holds")
		}
	}
	syscall.Flock(int(a.Fd()), syscall.LOCK_UN)
	if err := syscall.Flock(int(b.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		t.Errorf("flock after unlock: %v", err)
	}
}

// The volatile view is a file system: random operations on the mount and
// on an ordinary directory leave the same tree; after sync(2) and a cut
// the disk holds it too.
func TestVolatileMatchesReference(t *testing.T) {
	f := mount(t, nil)
	ref := t.TempDir()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	names := []string{"a", "b", "c", "d/a", "d/b", "e"}
	for range 400 {
		name, other := names[r.Intn(len(names))], names[r.Intn(len(names))]
		off, n := r.Int63n(20000), r.Intn(9000)
		buf := make([]byte, n)
		r.Read(buf)
		op := r.Intn(9)
		var errs [2]error
		for i, root := range []string{f.mnt, ref} {
			p, q := filepath.Join(root, name), filepath.Join(root, other)
			switch op {
			case 0, 1, 2:
				var fh *os.File
				if fh, errs[i] = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644); errs[i] == nil {
					_, errs[i] = fh.WriteAt(buf, off)
					fh.Close()
				}
			case 3:
				errs[i] = os.Truncate(p, off)
			case 4:
				errs[i] = os.Rename(p, q)
			case 5:
				errs[i] = os.Remove(p)
			case 6:
				errs[i] = os.Mkdir(filepath.Join(root, "d"), 0o755)
			case 7:
				errs[i] = os.Link(p, q)
			case 8:
				if i == 0 {
					f.Writeback(r, 0.3)
				}
			}
		}
		if (errs[0] == nil) != (errs[1] == nil) {
			t.Fatalf("op %d on %s, %s: mount %v, reference %v", op, name, other, errs[0], errs[1])
		}
	}
	want := tree(t, ref)
	if got := tree(t, f.mnt); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the mount differs from the reference")
	}
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, f.lower); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after sync and unmount the disk differs from the reference")
	}
}

// bbolt on the mount, in a child process (it maps the file): pwrite,
// mmap reads, flock, fdatasync. Cut at a random sync call each time: the
// database on the disk opens, passes bbolt's check, and holds every
// commit the child reported.
func TestBoltPowerCuts(t *testing.T) {
	cuts := 12
	if testing.Short() {
		cuts = 4
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	lower, mnt := t.TempDir(), t.TempDir()
	if err := Available(); err != nil {
		t.Skip("FUSE is not available: ", err)
	}
	committed := 0 // commits reported before a cut, in all rounds
	for i := range cuts {
		f, err := Mount(lower, mnt, nil)
		if err != nil {
			if os.Getenv("ALIASLEASE_TEST_FUSE") == "1" {
				t.Fatal(err)
			}
			t.Skip("FUSE is not available: ", err)
		}
		if i%2 == 1 {
			f.PowerOffAtSync(1 + r.Intn(60))
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$", filepath.Join(mnt, "bolt.db"))
		cmd.Env = append(os.Environ(), "POWERCUT_HELPER=bolt")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Rounds 2 and 3 of every 4 let the kernel write back at random.
		wbDone := make(chan struct{})
		go func(wb *rand.Rand, on bool) {
			defer close(wbDone)
			for !f.Off() {
				if on {
					f.Writeback(wb, 0.2)
				}
				time.Sleep(time.Duration(wb.Intn(1000)) * time.Microsecond)
			}
		}(rand.New(rand.NewSource(r.Int63())), i%4 >= 2)
		if i%2 == 0 {
			time.Sleep(time.Duration(20+r.Intn(200)) * time.Millisecond)
			f.PowerOff()
		}
		for deadline := time.Now().Add(10 * time.Second); !f.Off(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				f.PowerOff() // the child stopped syncing: cut anyway
			}
		}
		<-wbDone
		cmd.Process.Kill()
		cmd.Wait()
		// The child prints the number of commits made so far after each.
		lines := strings.Fields(out.String())
		if len(lines) > 0 {
			committed, _ = strconv.Atoi(lines[len(lines)-1])
		}
		if err := f.Cut(); err != nil {
			t.Fatal(err)
		}
		n := checkBolt(t, filepath.Join(lower, "bolt.db"))
		if n < committed {
			t.Fatalf("cut %d: the disk holds %d commits, the child reported %d (stderr %q)", i, n, committed, errb.String())
		}
		t.Logf("cut %d: %d commits reported, %d on the disk, %+v", i, committed, n, f.Stats())
		committed = n
	}
}

// checkBolt opens a database on the disk read-only, runs bbolt's check,
// and returns its number of commits (the key "n").
func checkBolt(t *testing.T, path string) int {
	t.Helper()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("open after the cut: %v", err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		b := tx.Bucket([]byte("b"))
		if b == nil {
			return nil
		}
		n = int(binary.BigEndian.Uint64(b.Get([]byte("n"))))
		for k := 1; k <= n; k++ {
			if v := b.Get(binary.BigEndian.AppendUint64(nil, uint64(k))); len(v) != 100+k%3000 {
				return fmt.Errorf("commit %d: value of %d bytes", k, len(v))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after the cut: %v", err)
	}
	return n
}

// helper is the child's side of TestBoltPowerCuts: commit after commit,
// each adding one key (of a growing size, so the file grows) and
// checking through the map that every earlier key reads back.
func helper(kind, path string) error {
	if kind != "bolt" {
		return fmt.Errorf("unknown helper %q", kind)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	// bbolt does not sync the directory of a file it creates: without
	// this, a new database is lost with it (the simulator shows it).
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		return err
	}
	d.Close()
	for {
		var n uint64
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			if v := b.Get([]byte("n")); v != nil {
				n = binary.BigEndian.Uint64(v)
			}
			for k := uint64(1); k <= n; k++ {
				if v := b.Get(binary.BigEndian.AppendUint64(nil, k)); len(v) != 100+int(k%3000) {
					return fmt.Errorf("key %d reads %d bytes through the map", k, len(v))
				}
			}
			n++
			if err := b.Put(binary.BigEndian.AppendUint64(nil, n), bytes.Repeat([]byte{byte(n)}, 100+int(n%3000))); err != nil {
				return err
			}
			return b.Put([]byte("n"), binary.BigEndian.AppendUint64(nil, n))
		})
		if err != nil {
			return err
		}
		fmt.Println(n)
	}
}
