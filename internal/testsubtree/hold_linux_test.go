package testsubtree

import (
	"os"
	"path/filepath"
	"testing"
)

// exists says whether path is there.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestHold: the last of overlapping holders removes a subtree made while
// they held it, and only then; one that was there first is kept; a
// holder inside another's hold (a helper process) never waits.
func TestHold(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  bool // the subtree is there when the first holder starts
		removed bool
	}{
		{"made by the suites", false, true},
		{"there before", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "aliaslease")
			if tc.before {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			first := Hold(dir)
			second := Hold(dir) // returns at once: holders share
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			first()
			if !exists(dir) {
				t.Fatalf("Hold(%s): the first release removed it while another held it", dir)
			}
			second()
			if got := !exists(dir); got != tc.removed {
				t.Errorf("Hold(%s): removed after the last release = %v, want %v", dir, got, tc.removed)
			}
			os.Remove(dir)
		})
	}
}
