package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMakeSharedRefusesSquatters(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a shared place is root's to make")
	}
	for _, tc := range []struct {
		name  string
		plant func(path string) error
	}{
		{"a user's directory", func(p string) error {
			if err := os.Mkdir(p, 0o777); err != nil {
				return err
			}
			return os.Chown(p, 4242, 4242)
		}},
		{"root's, another mode", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"a link to a directory", func(p string) error { return os.Symlink(filepath.Dir(p), p) }},
		{"a file", func(p string) error { return os.WriteFile(p, nil, 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "shared")
			if err := tc.plant(dir); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(dir)
			if made, err := MakeShared(dir, 54321); made || !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("MakeShared over %s = %v, %v, want false, ErrUnsafePath", tc.name, made, err)
			}
			after, _ := os.Lstat(dir)
			if after.Mode() != before.Mode() || !os.SameFile(before, after) {
				t.Fatalf("MakeShared changed %s: mode %v, was %v", tc.name, after.Mode(), before.Mode())
			}
		})
	}
}

func TestMakeSharedThenOpen(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a shared place is root's to make")
	}
	dir := filepath.Join(t.TempDir(), "run", "aliaslease", "shared")
	if made, err := MakeShared(dir, 54321); !made || err != nil {
		t.Fatalf("MakeShared(%q) = %v, %v, want true, nil", dir, made, err)
	}
	if made, err := MakeShared(dir, 54321); made || err != nil {
		t.Fatalf("MakeShared(%q) again = %v, %v, want false, nil (kept)", dir, made, err)
	}
	if _, err := MakeShared(dir, 54322); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("MakeShared(%q) for another group = %v, want ErrUnsafePath", dir, err)
	}
	d, i, err := OpenShared(dir)
	if err != nil || i.GID() != 54321 {
		t.Fatalf("OpenShared(%q) = gid %d, %v", dir, i.GID(), err)
	}
	defer d.Close()
	if err := d.WriteShared("x", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	b, fi, err := d.ReadShared("x")
	if err != nil || string(b) != "hello" || fi.perm() != sharedFileMode || fi.GID() != 54321 {
		t.Fatalf("ReadShared(x) = %q, mode %04o gid %d, %v; want hello, 0640, the group's", b, fi.perm(), fi.GID(), err)
	}
	p, _ := os.Stat(filepath.Dir(dir))
	if p.Mode().Perm() != 0o755 {
		t.Fatalf("parent made with mode %v, want 0755", p.Mode())
	}
}
