package lease

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliaslease/aliaslease/internal/fstree"
)

// TestOpenRefusesUnsafePaths: openStore applies the file layer's
// ownership rules (lease/internal/safefile, where they are tested in
// full) to the directory, the database and the lock file: each is
// ErrUnsafePath of this package, and nothing is created or changed,
// whatever the options.
func TestOpenRefusesUnsafePaths(t *testing.T) {
	for name, setup := range map[string]func(base string) string{
		"directory group-writable": func(base string) string { return filepath.Join(mkdir(t, base, "d", 0o770), "leases.db") },
		"database group-writable":  func(base string) string { return dbFile(t, base, 0o660) },
		"lock file world-writable": func(base string) string {
			p := dbFile(t, base, 0o600)
			must(t, os.WriteFile(p+".lock", nil, 0o600))
			must(t, os.Chmod(p+".lock", 0o666))
			return p
		},
	} {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			path := setup(base)
			before := fstree.Snapshot(base)
			for _, o := range []storeOptions{{Create: true}, {ReadOnly: true}, {}} {
				s, err := openStore(path, &o)
				if err == nil {
					s.Close()
				}
				if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), "writable by group or others") {
					t.Errorf("Open(%q, %+v) = %v, want ErrUnsafePath", path, o, err)
				}
			}
			fstree.Same(t, "after the refusals", base, before)
		})
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

// dbFile makes a valid database in base with its lock file, then sets
// the database's mode.
func dbFile(t *testing.T, base string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(base, "leases.db")
	s := openTest(t, p)
	mustAcquire(t, s, acquireRequest{Slug: "a"})
	s.Close()
	must(t, os.Remove(p+".lock"))
	must(t, os.Chmod(p, mode))
	return p
}

// TestOnlyCreateMakesALockFile: opens that do not create never make a
// lock file, neither beside a database without one nor beside a file
// that is not a database; a creating open refuses such a file before
// making one, and makes one beside a good database.
func TestOnlyCreateMakesALockFile(t *testing.T) {
	for _, kind := range []string{"database", "text file"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "leases.db")
			if kind == "database" {
				path = dbFile(t, filepath.Dir(path), 0o600)
			} else {
				must(t, os.WriteFile(path, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644))
			}
			for _, o := range []storeOptions{{ReadOnly: true}, {}, {Create: true}} {
				s, err := openStore(path, &o)
				if err == nil {
					s.Close()
				}
				_, lerr := os.Lstat(path + ".lock")
				switch {
				case kind == "text file" && !errors.Is(err, ErrCorrupt):
					t.Errorf("Open(%q, %+v) = %v, want ErrCorrupt", path, o, err)
				case kind == "database" && err != nil:
					t.Errorf("Open(%q, %+v) = %v, want it open", path, o, err)
				case kind == "database" && o.Create && lerr != nil:
					t.Errorf("a creating open left no lock file: %v", lerr)
				case (kind == "text file" || !o.Create) && lerr == nil:
					t.Errorf("Open(%q, %+v) made a lock file beside a %s", path, o, kind)
				}
			}
		})
	}
}

// TestLockRecordOnlyOverARecord: the holder record is written into an
// empty lock file, over a record, or over the zeros a power cut leaves of
// one, never over anything else.
func TestLockRecordOnlyOverARecord(t *testing.T) {
	other := bytes.Repeat([]byte("not a record "), 20)
	for name, content := range map[string][]byte{"empty": nil, "record": nil, "other content": other, "short": []byte("x"), "zeros": make([]byte, lockRecordLen)} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "leases.db")
			openTest(t, path).Close()
			if name != "record" {
				must(t, os.WriteFile(path+".lock", content, 0o600))
			}
			s, err := openStore(path, &storeOptions{Command: "test"})
			if err != nil {
				t.Fatalf("Open(%q) = %v", path, err)
			}
			s.Close()
			got := readFile(t, path+".lock")
			isRecord := len(got) == lockRecordLen && bytes.HasPrefix(got, fmt.Appendf(nil, "pid=%d ", os.Getpid()))
			if want := name != "other content" && name != "short"; isRecord != want || !want && !bytes.Equal(got, content) {
				t.Errorf("lock file that was %s holds %q after an exclusive open", name, got)
			}
		})
	}
}
