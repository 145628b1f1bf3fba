package dockerinv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aliaslease/aliaslease/lease"
)

// TestReadFile checks that the files of the Docker configuration are read
// without ever blocking, only when regular, and, as root, only when no
// one but root can steer them.
func TestReadFile(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name     string
		make     func(t *testing.T, path string)
		asRoot   bool   // the case needs root (to chown)
		unsafe   string // the refusal's words; "" for a read
		notExist bool
	}{
		{name: "regular file", make: func(t *testing.T, p string) { write(t, p, 0o600) }},
		{name: "missing", make: func(*testing.T, string) {}, notExist: true},
		{name: "fifo", make: func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, unsafe: "not a regular file (a named pipe)"},
		{name: "directory", make: func(t *testing.T, p string) { os.Mkdir(p, 0o700) }, unsafe: "not a regular file (a directory)"},
		{name: "owned by another user", asRoot: true, make: func(t *testing.T, p string) {
			write(t, p, 0o600)
			chown(t, p, 65534)
		}, unsafe: "owned by uid 65534"},
		{name: "directory owned by another user", asRoot: true, make: func(t *testing.T, p string) {
			write(t, p, 0o600)
			chown(t, filepath.Dir(p), 65534)
		}, unsafe: "owned by uid 65534"},
		{name: "writable by others", asRoot: true, make: func(t *testing.T, p string) {
			write(t, p, 0o600)
			os.Chmod(p, 0o666)
		}, unsafe: "writable by group or others"},
		{name: "symlink to another user's file", asRoot: true, make: func(t *testing.T, p string) {
			other := filepath.Join(t.TempDir(), "other")
			os.Mkdir(other, 0o755)
			write(t, filepath.Join(other, "f"), 0o600)
			chown(t, other, 65534)
			os.Symlink(filepath.Join(other, "f"), p)
		}, unsafe: "owned by uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.asRoot && !root {
				t.Skip("needs root")
			}
			dir := filepath.Join(t.TempDir(), "docker")
			os.Mkdir(dir, 0o700)
			path := filepath.Join(dir, "config.json")
			tt.make(t, path)
			b, err := readFile("docker config", path)
			switch {
			case tt.notExist:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("readFile(%q) = %q, %v, want fs.ErrNotExist", path, b, err)
				}
			case tt.unsafe != "":
				if !errors.Is(err, lease.ErrUnsafePath) || !strings.Contains(err.Error(), tt.unsafe) || !strings.Contains(err.Error(), "docker config") {
					t.Errorf("readFile(%q) = %q, %v, want ErrUnsafePath saying %q", path, b, err, tt.unsafe)
				}
			case err != nil || string(b) != "{}":
				t.Errorf("readFile(%q) = %q, %v, want {}", path, b, err)
			}
		})
	}
}

func write(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("{}"), mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}
