package lease

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSharedUnlistablePlace: a place whose listing fails (here its
// descriptor made /dev/null's; EMFILE or EIO in life) fails the decision
// instead of showing it no claims: before, the other database's claim
// was missed and its alias free to take.
func TestSharedUnlistablePlace(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd")
	}
	shared := sharedPlaceForTest(t)
	a := netip.MustParseAddr("127.0.77.16")
	other := writeClaim(t, shared, claim{Alias: a, UID: 4242, DB: "/home/u2/l.db", Slug: "s", Generation: 1, Seq: 1, Renewed: time.Now()})
	if err := os.Chown(other, 4242, testGID); err != nil {
		t.Fatal(err)
	}
	p, err := openPlace(context.Background(), shared, filepath.Join(t.TempDir(), "l.db"), time.Second)
	if err != nil || p == nil {
		t.Fatalf("openPlace(%q) = %v, %v", shared, p, err)
	}
	defer p.Close()
	if cs, err := newClaimSet(p, &holderIndex{}, instant{wall: time.Now()}, DefaultGrace, false); err != nil || !cs.taken(nil, a) {
		t.Fatalf("newClaimSet: taken(%v) = %v, %v, want true, nil", a, cs != nil && cs.taken(nil, a), err)
	}
	breakDescriptorsOf(t, shared)
	if cs, err := newClaimSet(p, &holderIndex{}, instant{wall: time.Now()}, DefaultGrace, false); err == nil {
		t.Fatalf("newClaimSet of a place that cannot be listed = taken(%v) %v, nil error, want an error", a, cs.taken(nil, a))
	}
}

// breakDescriptorsOf puts /dev/null under every descriptor of this
// process that is open on dir.
func breakDescriptorsOf(t *testing.T, dir string) {
	t.Helper()
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || l != dir {
			continue
		}
		if err := unix.Dup2(null, fd); err != nil && !errors.Is(err, unix.EBADF) {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no descriptor open on %s", dir)
	}
}
