package safefile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/fstree"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// otherUID is a user that is neither root nor the test's (nobody).
const otherUID = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make files of another user")
	}
}

// openLikeStore does with the database at path what package lease's openStore
// does with this layer: the directory (made with create), the lock file
// (made with create, after the database was vetted), then the database,
// checked, or made aside when missing (with create).
func openLikeStore(path string, create bool) error {
	d, err := OpenDir(filepath.Dir(path), create)
	if err != nil {
		return err
	}
	defer d.Close()
	base := filepath.Base(path)
	vet := func() error { // a database found without a lock file
		if err := checkDB(d, base, path); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	lk, err := d.Lock(context.Background(), base+".lock", LockOptions{Shared: !create, Create: create, Timeout: time.Second, Vet: vet})
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if err := checkDB(d, base, path); !errors.Is(err, fs.ErrNotExist) || !create {
		return err
	}
	_, err = d.Create(base, "database", func(name string, i Info) error { return fillBolt(d, name, i) })
	return err
}

// checkDB checks the database base in d as openStore does before bbolt sees
// it; a missing one is fs.ErrNotExist.
func checkDB(d *Dir, base, path string) error {
	f, i, err := d.OpenAt(base, os.O_RDONLY, "database")
	if err != nil {
		return err
	}
	defer f.Close()
	return CheckFile(f, path, i.Size())
}

// fillBolt makes the file name in d a bbolt database with one bucket,
// through d.Opener.
func fillBolt(d *Dir, name string, i Info) error {
	db, err := bolt.Open(filepath.Join(d.Path(), name), 0o600, &bolt.Options{Timeout: time.Second, OpenFile: d.Opener(name, i)})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// TestOwnershipRules: a database directory, an ancestor of it, the
// database or its lock file that another user could steer is refused
// with ErrUnsafePath and a message naming the path, and nothing is
// created or changed, by a creating open or a read-only one.
func TestOwnershipRules(t *testing.T) {
	for _, tt := range ownershipCases() {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				needRoot(t)
			}
			base := t.TempDir()
			path := tt.setup(t, base)
			before := fstree.Snapshot(base)
			for _, create := range []bool{true, false} {
				err := openLikeStore(path, create)
				if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("openLikeStore(%q, create=%v) = %v, want ErrUnsafePath saying %q", path, create, err, tt.want)
				}
			}
			fstree.Same(t, "after the refusals", base, before)
		})
	}
}

// ownershipCase is a path the ownership rules refuse.
type ownershipCase struct {
	name  string
	root  bool                                   // needs root (chown)
	setup func(t *testing.T, base string) string // returns the database path
	want  string                                 // in the message
}

func ownershipCases() []ownershipCase {
	return []ownershipCase{
		{name: "directory group-writable", setup: func(t *testing.T, base string) string {
			return dbIn(t, mkdir(t, base, "d", 0o770))
		}, want: "is writable by group or others"},
		{name: "directory sticky and world-writable", setup: func(t *testing.T, base string) string {
			return dbIn(t, mkdir(t, base, "d", 0o1777))
		}, want: "is writable by group or others"},
		{name: "directory of another user", root: true, setup: func(t *testing.T, base string) string {
			return dbIn(t, chown(t, mkdir(t, base, "d", 0o700)))
		}, want: "is owned by uid 65534"},
		{name: "parent world-writable", setup: func(t *testing.T, base string) string {
			return filepath.Join(mkdir(t, base, "p", 0o777), "d", "leases.db")
		}, want: "writable by group or others"},
		{name: "parent of another user", root: true, setup: func(t *testing.T, base string) string {
			return filepath.Join(chown(t, mkdir(t, base, "p", 0o755)), "d", "leases.db")
		}, want: "is owned by uid 65534"},
		{name: "database group-writable", setup: func(t *testing.T, base string) string {
			return dbFile(t, base, 0o660)
		}, want: "writable by group or others"},
		{name: "database of another user", root: true, setup: func(t *testing.T, base string) string {
			return chown(t, dbFile(t, base, 0o600))
		}, want: "is owned by uid 65534"},
		{name: "database with two links", setup: func(t *testing.T, base string) string {
			p := dbFile(t, base, 0o600)
			must(t, os.Link(p, filepath.Join(base, "other")))
			return p
		}, want: "has 2 links"},
		{name: "lock file with two links", setup: func(t *testing.T, base string) string {
			p := dbFile(t, base, 0o600)
			must(t, os.WriteFile(filepath.Join(base, "victim"), []byte("root:x:0:0\n"), 0o600))
			must(t, os.Link(filepath.Join(base, "victim"), p+".lock"))
			return p
		}, want: "has 2 links"},
		{name: "lock file world-writable", setup: func(t *testing.T, base string) string {
			p := dbFile(t, base, 0o600)
			must(t, os.WriteFile(p+".lock", nil, 0o600))
			must(t, os.Chmod(p+".lock", 0o666))
			return p
		}, want: "writable by group or others"},
		{name: "symlink of another user on the way", root: true, setup: func(t *testing.T, base string) string {
			must(t, os.Symlink(mkdir(t, base, "real", 0o700), filepath.Join(base, "link")))
			must(t, os.Lchown(filepath.Join(base, "link"), otherUID, otherUID))
			return filepath.Join(base, "link", "leases.db")
		}, want: "symbolic link owned by uid 65534"},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mkdir makes base/name with exactly mode.
func mkdir(t *testing.T, base, name string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(base, name)
	must(t, os.Mkdir(p, 0o700))
	must(t, os.Chmod(p, mode&fs.ModePerm|map[bool]fs.FileMode{true: fs.ModeSticky}[mode&0o1000 != 0]))
	return p
}

func chown(t *testing.T, p string) string {
	t.Helper()
	must(t, os.Lchown(p, otherUID, otherUID))
	return p
}

func dbIn(t *testing.T, dir string) string { return filepath.Join(dir, "leases.db") }

// dbFile makes a valid database in base with its lock file, then
// removes the lock file and sets the database's mode.
func dbFile(t *testing.T, base string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(base, "leases.db")
	must(t, openLikeStore(p, true))
	must(t, os.Remove(p+".lock"))
	must(t, os.Chmod(p, mode))
	return p
}

// TestSymlinksNotFollowed: a symbolic link at the database, its lock or
// an aside name is never followed, whoever owns it; a symbolic link of
// this user on the way to the directory is (it was not planted).
func TestSymlinksNotFollowed(t *testing.T) {
	base := t.TempDir()
	outside := mkdir(t, base, "outside", 0o700)
	must(t, os.WriteFile(filepath.Join(outside, "target"), nil, 0o600))
	dir := mkdir(t, base, "dir", 0o700)
	path := filepath.Join(dir, "leases.db")
	for _, name := range []string{"leases.db", "leases.db.lock"} {
		t.Run(name, func(t *testing.T) {
			link := filepath.Join(dir, name)
			must(t, os.Symlink(filepath.Join(outside, "target"), link))
			defer os.Remove(link)
			before := fstree.Snapshot(base)
			for _, create := range []bool{true, false} {
				err := openLikeStore(path, create)
				if err == nil || !strings.Contains(err.Error(), "not a regular file but a symbolic link") {
					t.Errorf("openLikeStore(%q, create=%v) with %s a symlink = %v, want a refusal", path, create, name, err)
				}
			}
			fstree.Same(t, "after the refusals", base, before)
		})
	}
	// This user's own link on the way is followed.
	must(t, os.Symlink(dir, filepath.Join(base, "mine")))
	must(t, openLikeStore(filepath.Join(base, "mine", "leases.db"), true))
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database through this user's own symlink: %v, want it in %s", err, dir)
	}
}

// TestExistingDirectoryModesKept: creating a database in a directory that
// exists never changes its mode; the directories made are 0700.
func TestExistingDirectoryModesKept(t *testing.T) {
	base := t.TempDir()
	open := mkdir(t, base, "open", 0o755)
	path := filepath.Join(open, "new", "leases.db")
	must(t, openLikeStore(path, true))
	for p, want := range map[string]fs.FileMode{open: 0o755, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("mode of %s = %v, %v, want %v", p, fi.Mode().Perm(), err, want)
		}
	}
}

// TestModeFix: the fix for a directory others can write is chmod go-w
// only for a directory of the user's own, never for a shared one.
func TestModeFix(t *testing.T) {
	me := uint32(os.Geteuid())
	tests := []struct {
		path      string
		mode      uint32
		uid       uint32
		wantChmod bool
	}{
		{"/tmp", unix.S_IFDIR | unix.S_ISVTX | 0o777, 0, false},
		{"/srv", unix.S_IFDIR | 0o775, me, false},
		{"/var/tmp/x", unix.S_IFDIR | 0o777, me, false},
		{"/dev/shm", unix.S_IFDIR | unix.S_ISVTX | 0o777, 0, false},
		{"/home/u/state", unix.S_IFDIR | 0o777, me + 1, false},
		{"/home/u/state", unix.S_IFDIR | 0o777, me, true},
		{"/home/u/state/", unix.S_IFDIR | 0o770, me, true},
	}
	for _, tt := range tests {
		got := modeFix(tt.path, Info{mode: tt.mode, uid: tt.uid}, "use another --db")
		if strings.Contains(got, "chmod") != tt.wantChmod || !strings.Contains(got, "--db") {
			t.Errorf("modeFix(%q, mode %o, uid %d) = %q, want chmod %v and --db named", tt.path, tt.mode, tt.uid, got, tt.wantChmod)
		}
	}
}

// TestFileOwnerNamesType: a file that is not regular is named by its type
// (the mode bits of stat are not those of fs.FileMode).
func TestFileOwnerNamesType(t *testing.T) {
	dir := t.TempDir()
	must(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	d, err := OpenDir(dir, false)
	must(t, err)
	defer d.Close()
	for name, want := range map[string]string{"fifo": "a FIFO", "sub": "a directory"} {
		i, err := d.Lstat(name)
		must(t, err)
		if err := checkFileOwner("database", name, i); err == nil || !strings.Contains(err.Error(), "not a regular file but "+want) {
			t.Errorf("checkFileOwner(%s) = %v, want it named %s", name, err, want)
		}
	}
}
