package lease

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

func TestAuditLogBounded(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	for i := 0; i < MaxEvents/2+10; i++ {
		slug := fmt.Sprintf("s%d", i%7)
		res := mustAcquire(t, s, acquireRequest{Slug: slug})
		if _, err := s.Release(slug, res.Lease.Generation); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Events(0, "")
	if err != nil || len(all) != MaxEvents {
		t.Fatalf("Events(0) = %d events, %v; want the newest %d", len(all), err, MaxEvents)
	}
	if first, last := all[0], all[len(all)-1]; last.Seq-first.Seq != MaxEvents-1 || last.Kind != EventRelease || last.PID != os.Getpid() {
		t.Errorf("Events(0) runs from %+v to %+v", first, last)
	}
	few, _ := s.Events(3, "s2")
	if len(few) != 3 || few[0].Slug != "s2" || few[2].Seq <= few[0].Seq {
		t.Errorf("Events(3, s2) = %+v", few)
	}
}

func TestLockStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	if st, err := lockStatus(path); err != nil || st.Held {
		t.Errorf("LockStatus with no lock file = %+v, %v", st, err)
	}
	s, err := openStore(path, &storeOptions{Create: true, Command: "acquire"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := lockStatus(path)
	if err != nil || !st.Held || st.PID != os.Getpid() || st.Command != "acquire" || time.Since(st.Since) > time.Minute {
		t.Errorf("LockStatus while held = %+v, %v; want this process, acquire", st, err)
	}
	s.Close()
	if st, _ := lockStatus(path); st.Held {
		t.Errorf("LockStatus after Close = %+v, want free", st)
	}
	// Held by something that is not aliaslease: the stale record of a
	// dead writer is not shown as the holder.
	os.WriteFile(path+".lock", []byte("pid=999999999 since=2020-01-01T00:00:00Z command=gc\n"), 0o600)
	lk := flock.New(path + ".lock")
	lk.Lock()
	defer lk.Unlock()
	if st, _ := lockStatus(path); !st.Held || st.PID != 0 {
		t.Errorf("LockStatus under a foreign flock = %+v, want held, no recorded holder", st)
	}
}

func TestRecover(t *testing.T) {
	pool := MustParsePool("127.0.0.16-127.0.0.31")
	holders := []Holder{
		{Alias: addr("127.0.0.20"), Slug: "a"},
		{Alias: addr("127.0.0.18"), Slug: "a"},
		{Alias: addr("127.0.0.17"), Slug: "b"},
		{Alias: addr("127.0.0.19"), Slug: "x"},
		{Alias: addr("127.0.0.19"), Slug: "y"},
		{Alias: addr("127.0.0.40"), Slug: "outside"},
		{Alias: addr("127.0.0.22"), Slug: "-bad"},
		{Alias: addr("127.0.0.23"), Slug: "c"},
		{Alias: addr("127.0.0.23"), Slug: "x\x1b]0;pwned"}, // leasing .23 to c would be a conflict at once
		{Alias: addr("127.0.0.21")},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "leases.db")
	now := time.Now()
	res, err := recoverDB(path, nil, holders, pool, now, false)
	var got []string
	for _, l := range res.Leases {
		got = append(got, l.Slug+"@"+l.Alias.String())
		if l.Generation <= uint64(now.UnixMicro()) {
			t.Errorf("recovered generation %d, want above %d", l.Generation, now.UnixMicro())
		}
	}
	// Skipped, each with a note: the shared alias, a's second alias, the
	// container outside the pool, the two invalid slugs, and .23, which a
	// container with an invalid label holds too.
	if err != nil || strings.Join(got, " ") != "b@127.0.0.17 a@127.0.0.18" || len(res.Skipped) != 6 {
		t.Fatalf("Recover = %v skipped %q, %v", got, res.Skipped, err)
	}
	s := openTest(t, path)
	if err := s.Check(); err != nil {
		t.Errorf("Check after Recover = %v", err)
	}
	if r := mustAcquire(t, s, acquireRequest{Slug: "c", Pool: pool}); r.Lease.Generation <= res.Leases[1].Generation {
		t.Errorf("generation after recovery %d, want above %d", r.Lease.Generation, res.Leases[1].Generation)
	}
	s.Close()
	if _, err := recoverDB(path, nil, holders, pool, now, false); !errors.Is(err, ErrExists) {
		t.Errorf("Recover over a readable database = %v, want ErrExists", err)
	}
	damaged := readFile(t, path)[:3*pageSize] // a bbolt file cut short
	os.WriteFile(path, damaged, 0o600)
	if _, err := recoverDB(path, nil, holders, pool, now, false); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("Recover over a damaged database = %v, want ErrCorrupt with the hint to use --force", err)
	}
	res, err = recoverDB(path, nil, holders, pool, now, true)
	if err != nil || res.MovedTo == "" || !bytes.Equal(readFile(t, res.MovedTo), damaged) {
		t.Errorf("Recover --force = %+v, %v; want the damaged file moved aside intact", res, err)
	}
}
