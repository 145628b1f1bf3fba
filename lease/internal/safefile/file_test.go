package safefile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCreatePermissionsAndLeftovers: the directories, the database and
// the lock file made have their modes whatever the umask, and a leftover
// of an interrupted creation is removed by the next creation.
func TestCreatePermissionsAndLeftovers(t *testing.T) {
	// Modes must not depend on the umask, neither a permissive nor a
	// restrictive one.
	for _, umask := range []int{0o000, 0o277} {
		dir := filepath.Join(t.TempDir(), "a", "b") // made before the umask changes: under 0 it would be 0777
		old := syscall.Umask(umask)
		path := filepath.Join(dir, "leases.db")
		err := openLikeStore(path, true)
		syscall.Umask(old)
		if err != nil {
			t.Fatalf("openLikeStore(%q) under umask %#o = %v", path, umask, err)
		}
		for p, want := range map[string]fs.FileMode{filepath.Dir(dir): 0o700 | fs.ModeDir, dir: 0o700 | fs.ModeDir, path: 0o600, path + ".lock": 0o600} {
			if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
				t.Errorf("umask %#o: mode of %s = %v, %v, want %v", umask, p, fi.Mode(), err, want)
			}
		}
	}
	// A leftover of an interrupted creation is ignored and removed.
	dir := t.TempDir()
	path := filepath.Join(dir, "leases.db")
	leftover := filepath.Join(dir, ".leases.db.creating-123")
	must(t, os.WriteFile(leftover, []byte("half"), 0o600))
	must(t, openLikeStore(path, true))
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leftover %s still there after creation: %v", leftover, err)
	}
}

// TestCheckFile: a file bbolt would initialise, crash on or misread is
// refused before bbolt sees it; a file without a meta page is
// ErrNotDatabase, and a whole database passes.
func TestCheckFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	must(t, openLikeStore(path, true))
	good, err := os.ReadFile(path)
	must(t, err)
	for _, tt := range []struct {
		name    string
		content []byte
		want    error // nil: accepted
	}{
		{"valid", good, nil},
		{"empty", nil, ErrCorrupt},
		{"text file", []byte("127.0.0.16 bottle\n"), ErrNotDatabase},
		{"zeros", make([]byte, 8<<10), ErrNotDatabase},
		{"one page", good[:4096], ErrCorrupt},
		{"three pages", good[:3*4096], ErrCorrupt},
	} {
		err := CheckFile(bytes.NewReader(tt.content), tt.name, int64(len(tt.content)))
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("CheckFile(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}
