package test

import (
	"os"
	"strings"
	"testing"
)

// TestSharePlaceChangedByRoot: a place whose owner, group or mode root
// changed after share is refused (exit 8) by every user, also one it
// now keeps out: before, a member kept out of a place of group root took
// it for a group it is not in and went on without it, so that its
// leases were claimed nowhere and another member was handed their
// aliases.
func TestSharePlaceChangedByRoot(t *testing.T) {
	e := newShareEnv(t)
	if r := e.share(t); r.code != 0 {
		t.Fatalf("share = %v", r)
	}
	for _, tc := range []struct {
		name   string
		change func() error
		says   string
	}{
		{"group root", func() error { return os.Chown(e.shared, 0, 0) }, "group root"},
		{"a member's, mode 0700", func() error {
			if err := os.Chown(e.shared, int(e.u1.uid), int(e.gid)); err != nil {
				return err
			}
			return os.Chmod(e.shared, 0o700)
		}, "not root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				os.Chown(e.shared, 0, int(e.gid))
				os.Chmod(e.shared, os.ModeSetgid|os.ModeSticky|0o770)
			}()
			for _, u := range []*shareUser{e.u2, e.outsider} {
				if r := e.cli(t, u, nil, "acquire", "--no-ifup", "a"); r.code != 8 || !strings.Contains(r.stderr, tc.says) {
					t.Errorf("acquire as %s with a shared place of %s = %v, want exit 8 saying %q", u.name, tc.name, r, tc.says)
				}
				if r := e.cli(t, u, nil, "doctor"); r.code != 10 || !strings.Contains(r.stdout, "unsafe") {
					t.Errorf("doctor as %s with a shared place of %s = %v, want exit 10 naming it unsafe", u.name, tc.name, r)
				}
			}
		})
	}
	if a := e.acquire(t, e.u2, "a"); a == "" {
		t.Fatalf("acquire as %s once the place is restored: no alias", e.u2.name)
	}
}
