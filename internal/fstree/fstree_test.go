//go:build unix

package fstree

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDiff: each kind of change under a directory shows, and no change
// shows nothing.
func TestDiff(t *testing.T) {
	tests := []struct {
		name   string
		change func(dir string) error
		want   string // the start of a line, after the path (the directory itself may change too)
	}{
		{"nothing", func(string) error { return nil }, ""},
		{"created", func(d string) error { return os.WriteFile(filepath.Join(d, "new"), nil, 0o600) }, "new appeared"},
		{"removed", func(d string) error { return os.Remove(filepath.Join(d, "f")) }, "f disappeared"},
		{"content", func(d string) error { return os.WriteFile(filepath.Join(d, "f"), []byte("y"), 0o600) }, "f changed"},
		{"mode", func(d string) error { return os.Chmod(filepath.Join(d, "f"), 0o644) }, "f changed"},
		{"replaced", func(d string) error {
			if err := os.WriteFile(filepath.Join(d, "g"), []byte("x"), 0o600); err != nil {
				return err
			}
			return os.Rename(filepath.Join(d, "g"), filepath.Join(d, "f"))
		}, "f changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			before := Snapshot(dir)
			if err := tt.change(dir); err != nil {
				t.Fatal(err)
			}
			got := Diff(before, Snapshot(dir))
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("Diff after %s = %q, want nothing", tt.name, got)
			case tt.want != "" && !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, filepath.Join(dir, tt.want)) }):
				t.Errorf("Diff after %s = %q, want a line starting %q", tt.name, got, filepath.Join(dir, tt.want))
			}
		})
	}
}
