package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
	bolt "go.etcd.io/bbolt"
)

// fakeInventory is a test double for Inventory: it returns its holders, or
// its error, and counts the calls.
type fakeInventory struct {
	holders []Holder
	err     error
	calls   int
}

func (f *fakeInventory) Holders(ctx context.Context) ([]Holder, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return append([]Holder(nil), f.holders...), nil
}

func testManager(t *testing.T, inv Inventory, mode InventoryMode) (*Manager, *[]error) {
	t.Helper()
	var warnings []error
	return &Manager{
		Path:        filepath.Join(t.TempDir(), "leases.db"),
		Pool:        MustParsePool("127.0.0.16-127.0.0.19"),
		LockTimeout: time.Second,
		Grace:       DefaultGrace,
		Inventory:   inv,
		Mode:        mode,
		Warn:        func(err error) { warnings = append(warnings, err) },
	}, &warnings
}

func TestManagerAcquireModes(t *testing.T) {
	foreign := []Holder{{Alias: addr("127.0.0.16"), Name: "foreign"}}
	noEngine := fmt.Errorf("docker at unix:///x: %w", ErrNoEngine)
	failing := fmt.Errorf("%w: docker at unix:///x: no answer within 1ms: %w", ErrInventory, context.DeadlineExceeded)
	badEndpoint := fmt.Errorf("%w: %q is not a URL", ErrEndpoint, "garbage")
	tests := []struct {
		name      string
		mode      InventoryMode
		inv       *fakeInventory
		want      string // alias, or the sentinel's text
		wantErr   error
		wantWarns int
	}{
		{name: "on, answers", mode: InventoryOn, inv: &fakeInventory{holders: foreign}, want: "127.0.0.17"},
		{name: "auto, answers", mode: InventoryAuto, inv: &fakeInventory{holders: foreign}, want: "127.0.0.17"},
		{name: "auto, nothing there falls back", mode: InventoryAuto, inv: &fakeInventory{err: noEngine}, want: "127.0.0.16", wantWarns: 1},
		{name: "on, nothing there fails", mode: InventoryOn, inv: &fakeInventory{err: noEngine}, wantErr: ErrNoEngine},
		{name: "auto, engine there but failing fails", mode: InventoryAuto, inv: &fakeInventory{err: failing}, wantErr: ErrInventory},
		{name: "auto, unwrapped failure counts as a failure", mode: InventoryAuto, inv: &fakeInventory{err: errors.New("garbled")}, wantErr: ErrInventory},
		{name: "auto, bad endpoint is bad input", mode: InventoryAuto, inv: &fakeInventory{err: badEndpoint}, wantErr: ErrEndpoint},
		{name: "off never asks", mode: InventoryOff, inv: &fakeInventory{holders: foreign}, want: "127.0.0.16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, warns := testManager(t, tt.inv, tt.mode)
			res, err := m.Acquire(context.Background(), "a", 0)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Acquire(%q) = %v, want %v", "a", err, tt.wantErr)
				}
				if errors.Is(tt.wantErr, ErrEndpoint) && errors.Is(err, ErrInventory) {
					t.Errorf("Acquire(%q) = %v: an endpoint error must not read as a Docker failure", "a", err)
				}
				if ds, _ := m.List(context.Background()); len(ds) != 0 && ds[0].Lease.Slug != "" {
					t.Errorf("after a failed Acquire the database holds %+v, want nothing", ds)
				}
				return
			}
			if err != nil || res.Lease.Alias.String() != tt.want {
				t.Fatalf("Acquire(%q) = %v, %v, want %s", "a", res.Lease.Alias, err, tt.want)
			}
			if len(*warns) != tt.wantWarns {
				t.Errorf("Acquire(%q) warned %v, want %d warnings", "a", *warns, tt.wantWarns)
			}
			if tt.mode == InventoryOff && tt.inv.calls != 0 {
				t.Errorf("Acquire(%q) with Docker off asked the inventory %d times", "a", tt.inv.calls)
			}
		})
	}
}

// hangingInventory never answers until its context ends.
type hangingInventory struct{}

func (hangingInventory) Holders(ctx context.Context) ([]Holder, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("%w: %w", ErrInventory, ctx.Err())
}

// TestManagerRenewalNeverWaits checks that a renewal neither waits for
// nor fails with a Docker that hangs or fails (the question asked beside
// the look is abandoned).
func TestManagerRenewalNeverWaits(t *testing.T) {
	for _, inv := range []Inventory{hangingInventory{}, &fakeInventory{err: errors.New("HTTP 500")}} {
		m, warns := testManager(t, &fakeInventory{}, InventoryOn)
		if _, err := m.Acquire(context.Background(), "a", 0); err != nil {
			t.Fatal(err)
		}
		m.Inventory = inv
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := m.Acquire(ctx, "a", 0)
		if err != nil || res.Outcome != OutcomeRenewed || ctx.Err() != nil || len(*warns) != 0 {
			t.Errorf("Acquire(%q) again with %T = %v, %v (context %v, warnings %v); want a renewal at once", "a", inv, res.Outcome, err, ctx.Err(), *warns)
		}
		cancel()
	}
}

func TestManagerInterruptedIsNotDockerFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	inv := &fakeInventory{err: fmt.Errorf("%w: %w", ErrInventory, context.Canceled)}
	m, warns := testManager(t, inv, InventoryAuto)
	_, err := m.Acquire(ctx, "a", 0)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrInventory) {
		t.Errorf("Acquire(%q) interrupted = %v, want context.Canceled and not ErrInventory", "a", err)
	}
	if len(*warns) != 0 {
		t.Errorf("Acquire(%q) interrupted warned %v; an interruption is no reason to fall back", "a", *warns)
	}
}

func TestManagerWaitEndsWithContext(t *testing.T) {
	m, _ := testManager(t, &fakeInventory{}, InventoryOff)
	m.Pool = MustParsePool("127.0.0.16")
	if _, err := m.Acquire(context.Background(), "a", 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := m.Acquire(ctx, "b", time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrExhausted) {
		t.Errorf("Acquire(%q, wait) ended by its context = %v, want the context's error, not ErrExhausted", "b", err)
	}
}

// TestManagerGCAndListModes checks what gc and list make of each mode and
// inventory failure: gc reclaims by the listeners and process holders
// alone under off and under auto with nothing there (an observation, so
// the lease's vacancy begins), and not at all when an engine that is there
// fails; list judges what it can and says unknown for the rest.
func TestManagerGCAndListModes(t *testing.T) {
	noEngine := fmt.Errorf("x: %w", ErrNoEngine)
	failing := fmt.Errorf("%w: HTTP 500", ErrInventory)
	for _, tt := range []struct {
		name        string
		mode        InventoryMode
		err         error
		wantGC      error // nil: gc observes
		wantListErr error // nil: list answers
		wantState   State
	}{
		{"off", InventoryOff, nil, nil, nil, Unknown},
		{"auto, nothing there", InventoryAuto, noEngine, nil, nil, Pending},
		{"auto, failing", InventoryAuto, failing, ErrInventory, nil, Unknown},
		{"on, nothing there", InventoryOn, noEngine, ErrInventory, ErrInventory, ""},
		{"on, failing", InventoryOn, failing, ErrInventory, ErrInventory, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := testManager(t, &fakeInventory{err: tt.err}, tt.mode)
			m.Mode = InventoryOff
			if _, err := m.Acquire(context.Background(), "a", 0); err != nil {
				t.Fatal(err)
			}
			m.Mode = tt.mode
			if _, err := m.GC(context.Background(), false); !errors.Is(err, tt.wantGC) {
				t.Errorf("GC() = %v, want %v", err, tt.wantGC)
			}
			ls, err := m.List(context.Background())
			switch {
			case tt.wantListErr != nil && !errors.Is(err, tt.wantListErr):
				t.Errorf("List() = %v, want %v", err, tt.wantListErr)
			case tt.wantListErr == nil && (err != nil || len(ls) != 1 || ls[0].State != tt.wantState):
				t.Errorf("List() = %+v, %v; want one %s lease", ls, err, tt.wantState)
			case tt.wantListErr == nil && (ls[0].Lease.Vacancy.Observations == 1) != (tt.wantGC == nil):
				t.Errorf("after GC() = %v the vacancy is %+v; want one observation exactly when gc observed", tt.wantGC, ls[0].Lease.Vacancy)
			}
		})
	}
}

// TestManagerLockedAfterInventory checks that a held lock is reported as
// itself (exit 5), not as a Docker failure (exit 4): the inventory asks
// the database nothing, so the lock wait is the decision's alone.
func TestManagerLockedAfterInventory(t *testing.T) {
	inv := &fakeInventory{}
	m, _ := testManager(t, inv, InventoryOn)
	if _, err := m.Acquire(context.Background(), "a", 0); err != nil {
		t.Fatal(err)
	}
	lk := flock.New(m.Path + ".lock")
	if ok, err := lk.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	defer lk.Unlock()
	m.LockTimeout = 50 * time.Millisecond
	calls := inv.calls
	_, err := m.GC(context.Background(), true)
	if !errors.Is(err, ErrLocked) || errors.Is(err, ErrInventory) {
		t.Errorf("GC() with the lock held = %v, want ErrLocked and not ErrInventory", err)
	}
	if inv.calls != calls+1 {
		t.Errorf("GC() asked the inventory %d times, want once", inv.calls-calls)
	}
}

// TestManagerRecoverReadsEveryBinding checks that recover never lets the
// database (which it rebuilds, and which may be damaged) shape what the
// inventory reports.
func TestManagerRecoverReadsEveryBinding(t *testing.T) {
	inv := &fakeInventory{holders: []Holder{{Alias: addr("127.0.0.17"), ID: "c1", Name: "b-web", Slug: "b", State: "exited"}}}
	m, _ := testManager(t, inv, InventoryOn)
	res, err := m.Recover(context.Background(), false)
	if err != nil || inv.calls != 1 || len(res.Leases) != 1 || res.Leases[0].Alias != addr("127.0.0.17") {
		t.Errorf("Recover() = %+v, %v after %d calls; want b on 127.0.0.17, asked once", res, err, inv.calls)
	}
}

// TestManagerListEach checks that list walks the leases in the order the
// database stores them (by slug) with the foreign pool aliases after
// them, that List puts all in alias order, and that a damaged record or
// records that disagree with the alias index fail the walk.
func TestManagerListEach(t *testing.T) {
	inv := &fakeInventory{}
	m, _ := testManager(t, inv, InventoryOff)
	for _, slug := range []string{"c", "a", "b"} {
		if _, err := m.Acquire(context.Background(), slug, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Release(context.Background(), "a", 0); err != nil {
		t.Fatal(err)
	}
	m.Mode = InventoryOn
	inv.holders = []Holder{{Alias: addr("127.0.0.17"), Name: "stranger"}, {Alias: addr("127.0.0.40"), Name: "outside"}}
	show := func(d Decision) string { return fmt.Sprintf("%s@%s=%s", d.Lease.Slug, d.Alias, d.State) }
	var got []string
	err := m.ListEach(context.Background(), func(d Decision) error {
		got = append(got, show(d))
		return nil
	})
	want := "b@127.0.0.18=pending c@127.0.0.16=pending @127.0.0.17=foreign"
	if err != nil || strings.Join(got, " ") != want {
		t.Errorf("ListEach = %q, %v, want %q", strings.Join(got, " "), err, want)
	}
	ds, err := m.List(context.Background())
	got = got[:0]
	for _, d := range ds {
		got = append(got, show(d))
	}
	want = "c@127.0.0.16=pending @127.0.0.17=foreign b@127.0.0.18=pending"
	if err != nil || strings.Join(got, " ") != want {
		t.Errorf("List() = %q, %v, want %q", strings.Join(got, " "), err, want)
	}
	damage := map[string]func(tx *bolt.Tx) error{
		"a damaged lease record": func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLeases).Put([]byte("b"), []byte{leaseRecordV2, 1, 2})
		},
		"an index entry naming a slug of another alias": func(tx *bolt.Tx) error {
			return tx.Bucket(bucketAliases).Put(aliasKey(addr("127.0.0.19")), []byte("c"))
		},
		"two slugs swapped": func(tx *bolt.Tx) error {
			b, c := tx.Bucket(bucketLeases).Get([]byte("b")), tx.Bucket(bucketLeases).Get([]byte("c"))
			b, c = slices.Clone(b), slices.Clone(c)
			copy(b[1:5], c[1:5])
			copy(c[1:5], []byte{127, 0, 0, 18})
			if err := tx.Bucket(bucketLeases).Put([]byte("b"), b); err != nil {
				return err
			}
			return tx.Bucket(bucketLeases).Put([]byte("c"), c)
		},
	}
	for what, change := range damage {
		path := filepath.Join(t.TempDir(), "leases.db")
		if err := os.WriteFile(path, readFile(t, m.Path), 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(change); err != nil {
			t.Fatal(err)
		}
		db.Close()
		m := *m
		m.Path = path
		if ds, err := m.List(context.Background()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("List() with %s = %d decisions, %v, want ErrCorrupt", what, len(ds), err)
		}
	}
}

// TestManagerRecoverMerges checks recover --force on a readable database:
// every lease no labelled holder contradicts is kept as it was (a pending
// lease, one of an unlabelled bundle), labelled holders without a lease
// are adopted, each lease that had to go is named, and the old file is
// kept aside (contract: recover).
func TestManagerRecoverMerges(t *testing.T) {
	inv := &fakeInventory{}
	m, _ := testManager(t, inv, InventoryOff)
	m.Pool = MustParsePool("127.0.0.16-127.0.0.23")
	for _, slug := range []string{"pending", "unlabelled", "moved", "squatted"} { // .16 .17 .18 .19
		if _, err := m.Acquire(context.Background(), slug, 0); err != nil {
			t.Fatal(err)
		}
	}
	before, err := m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inv.holders = []Holder{
		{Alias: addr("127.0.0.17"), ID: "u", Name: "web", State: "running"},                     // no label: unlabelled's bundle
		{Alias: addr("127.0.0.20"), ID: "m", Name: "moved-web", Slug: "moved", State: "exited"}, // moved's containers now on .20
		{Alias: addr("127.0.0.19"), ID: "z", Name: "z-web", Slug: "z", State: "running"},        // z's containers on squatted's alias
		{Alias: addr("127.0.0.21"), ID: "w", Name: "w-web", Slug: "w", State: "created"},        // w has no lease
	}
	m.Mode = InventoryOn
	res, err := m.Recover(context.Background(), true)
	if err != nil {
		t.Fatalf("Recover(force) = %v", err)
	}
	var got []string
	for _, l := range res.Leases {
		got = append(got, l.Slug+"@"+l.Alias.String())
	}
	if want := "pending@127.0.0.16 unlabelled@127.0.0.17 z@127.0.0.19 moved@127.0.0.20 w@127.0.0.21"; strings.Join(got, " ") != want {
		t.Errorf("Recover(force) leases = %s, want %s", strings.Join(got, " "), want)
	}
	if want := []string{
		"dropped the lease of moved on 127.0.0.18: its labelled containers publish on 127.0.0.20",
		"dropped the lease of squatted on 127.0.0.19: containers labelled z publish on it",
	}; !slices.Equal(res.Dropped, want) {
		t.Errorf("Recover(force) dropped = %q, want %q", res.Dropped, want)
	}
	for _, l := range res.Leases {
		if l.Slug == "pending" && (l.Generation != before[0].Lease.Generation || !l.AcquiredAt.Equal(before[0].Lease.AcquiredAt)) {
			t.Errorf("kept lease %+v, want it as it was: %+v", l, before[0].Lease)
		}
	}
	if _, err := os.Stat(res.MovedTo); res.MovedTo == "" || err != nil {
		t.Errorf("Recover(force) moved the old file to %q (%v), want it kept aside", res.MovedTo, err)
	}
}
