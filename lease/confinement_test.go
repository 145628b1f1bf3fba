package lease

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestConfinementRecord checks that a confinement reads back as written,
// that a newer binary's trailing bytes are ignored, and that a damaged
// record confines nothing.
func TestConfinementRecord(t *testing.T) {
	for _, c := range []Confinement{
		{Alias: addr("127.0.0.16"), CgroupID: 4242, Level: 2, Since: t0},
		{Alias: addr("127.0.0.17"), CgroupID: 1 << 40, Level: 7, Since: t0.Add(time.Nanosecond),
			Allow: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53"), netip.MustParseAddrPort("[::1]:8080")}},
	} {
		enc := encodeConfinement(c)
		for name, b := range map[string][]byte{"as written": enc, "with newer bytes": append(bytes.Clone(enc), 9, 9, 9)} {
			got, ok := decodeConfinement(b)
			if !ok || !reflect.DeepEqual(got, c) {
				t.Errorf("decodeConfinement(%s of %+v) = %+v, %v; want it back", name, c, got, ok)
			}
		}
	}
	good := encodeConfinement(Confinement{Alias: addr("127.0.0.16"), CgroupID: 1, Level: 1, Allow: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53")}})
	for name, b := range map[string][]byte{
		"empty":         nil,
		"newer version": append([]byte{2}, good[1:]...),
		"cut short":     good[:len(good)-1],
		"no cgroup id":  append(append([]byte{1}, make([]byte, 8)...), good[9:]...),
		"bad alias len": append(append(bytes.Clone(good[:21]), 5), good[22:]...),
	} {
		if c, ok := decodeConfinement(b); ok {
			t.Errorf("decodeConfinement(%s) = %+v, true; want nothing confined", name, c)
		}
	}
}

// FuzzConfinementRecord checks that no record makes the decoder panic, and
// that one it reads encodes to a record that reads the same.
func FuzzConfinementRecord(f *testing.F) {
	f.Add(encodeConfinement(Confinement{Alias: addr("127.0.0.16"), CgroupID: 9, Level: 1,
		Allow: []netip.AddrPort{netip.MustParseAddrPort("[::1]:53")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ok := decodeConfinement(b)
		if !ok {
			return
		}
		again, ok2 := decodeConfinement(encodeConfinement(c))
		if !ok2 || !reflect.DeepEqual(again, c) {
			t.Errorf("decodeConfinement(%x) = %+v; encoded again it reads %+v, %v", b, c, again, ok2)
		}
	})
}

// TestHoldConfined checks that a confined holder is recorded with its
// confinement, read back by every way a lease is read, and that both go
// when the run ends or the lease is released.
func TestHoldConfined(t *testing.T) {
	ctx := context.Background()
	m, _ := testManager(t, nil, InventoryOff)
	m.Trees = alwaysAlive{}
	res, err := m.Acquire(ctx, "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := &Confinement{Alias: res.Lease.Alias, CgroupID: 77, Level: 2, Since: t0,
		Allow: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53")}}
	h := ProcessHolder{Slug: "web", Generation: res.Lease.Generation, RunID: "r1", Kind: TreeCgroup, Cgroup: "web.1.r1", Confined: conf}
	plain := ProcessHolder{Slug: "web", Generation: res.Lease.Generation, RunID: "r2", Kind: TreeCgroup, Cgroup: "web.1.r2"}
	for _, hh := range []ProcessHolder{h, plain} {
		if err := m.Hold(ctx, hh, false, false); err != nil {
			t.Fatalf("Hold(%v) = %v", hh, err)
		}
	}
	want := []ProcessHolder{h, plain}
	l, err := m.Lease(ctx, "web")
	if err != nil || !reflect.DeepEqual(l.Processes, want) {
		t.Errorf("Lease(web).Processes = %+v, %v; want %+v", l.Processes, err, want)
	}
	ls, err := m.Leases(ctx)
	if err != nil || len(ls) != 1 || !reflect.DeepEqual(ls[0].Processes, want) {
		t.Errorf("Leases() = %+v, %v; want one lease held by %+v", ls, err, want)
	}
	if _, err := m.Unconfine(ctx, "web", 0, "r2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Unconfine(web, r2 unconfined) = %v, want %v", err, ErrNotFound)
	}
	if _, err := m.Unconfine(ctx, "web", res.Lease.Generation+1, "r1"); !errors.Is(err, ErrGenerationMismatch) {
		t.Errorf("Unconfine(web, another generation) = %v, want %v", err, ErrGenerationMismatch)
	}
	if got, err := m.Unconfine(ctx, "web", 0, "r1"); err != nil || !reflect.DeepEqual(got, h) {
		t.Errorf("Unconfine(web, r1) = %+v, %v; want %+v", got, err, h)
	}
	lifted := h
	lifted.Confined = nil
	if l, _ := m.Lease(ctx, "web"); !reflect.DeepEqual(l.Processes, []ProcessHolder{lifted, plain}) {
		t.Errorf("after Unconfine(r1) Processes = %+v, want r1 still a holder, unconfined", l.Processes)
	}
	evs, err := m.Events(ctx, 0, "web")
	var kinds []EventKind
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if wantKinds := []EventKind{EventAcquire, EventConfine, EventUnconfine}; err != nil || !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("Events(web) = %v, %v; want %v", kinds, err, wantKinds)
	}
	if _, err := m.EndRun(ctx, "web", res.Lease.Generation, "r1"); err != nil {
		t.Fatal(err)
	}
	h.Confined = conf
	if err := m.Hold(ctx, h, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.EndRun(ctx, "web", res.Lease.Generation, "r1"); err != nil {
		t.Fatal(err)
	}
	if l, _ := m.Lease(ctx, "web"); !reflect.DeepEqual(l.Processes, []ProcessHolder{plain}) {
		t.Errorf("after EndRun(r1) Processes = %+v, want only %+v", l.Processes, plain)
	}
	// A holder recorded again under r1 without a confinement has none:
	// nothing of the ended one's is left.
	h.Confined = nil
	if err := m.Hold(ctx, h, false, false); err != nil {
		t.Fatal(err)
	}
	if l, _ := m.Lease(ctx, "web"); len(l.Processes) != 2 || l.Processes[0].Confined != nil {
		t.Errorf("after Hold(r1 unconfined) Processes = %+v, want r1 unconfined", l.Processes)
	}
}

// alwaysAlive is Trees for which every recorded tree lives.
type alwaysAlive struct{}

func (alwaysAlive) Alive(ProcessHolder) (bool, error)                       { return true, nil }
func (alwaysAlive) End(context.Context, ProcessHolder, time.Duration) error { return nil }

// TestRenew checks that Renew renews only the lease of its generation,
// and never makes one.
func TestRenew(t *testing.T) {
	ctx := context.Background()
	m, _ := testManager(t, nil, InventoryOff)
	if _, err := m.Renew(ctx, "web", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Renew(web) without a database = %v, want %v", err, ErrNotFound)
	}
	res, err := m.Acquire(ctx, "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Renew(ctx, "other", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Renew(other) = %v, want %v", err, ErrNotFound)
	}
	if _, err := m.Renew(ctx, "web", res.Lease.Generation+1); !errors.Is(err, ErrGenerationMismatch) {
		t.Errorf("Renew(web, another generation) = %v, want %v", err, ErrGenerationMismatch)
	}
	later := res.Lease.RenewedAt.Add(time.Hour)
	m.Now = func() time.Time { return later }
	l, err := m.Renew(ctx, "web", res.Lease.Generation)
	if err != nil || !l.RenewedAt.Equal(later) || l.Generation != res.Lease.Generation || l.Alias != res.Lease.Alias {
		t.Errorf("Renew(web) = %+v, %v; want the same lease renewed at %v", l, err, later)
	}
	if ls, _ := m.Leases(ctx); len(ls) != 1 || !ls[0].RenewedAt.Equal(later) {
		t.Errorf("after Renew, Leases() = %+v; want web renewed at %v", ls, later)
	}
}

// endableTrees is Trees whose trees live until End ends them.
type endableTrees map[string]bool

func (e endableTrees) Alive(h ProcessHolder) (bool, error) { return !e[h.RunID], nil }
func (e endableTrees) End(_ context.Context, h ProcessHolder, _ time.Duration) error {
	e[h.RunID] = true
	return nil
}

// TestReleaseForceLogged checks that a release that had to end trees is
// logged as forced, and a plain one (nothing to end) as before.
func TestReleaseForceLogged(t *testing.T) {
	ctx := context.Background()
	m, _ := testManager(t, nil, InventoryOff)
	m.Trees = endableTrees{}
	for _, slug := range []string{"held", "free"} {
		res, err := m.Acquire(ctx, slug, 0)
		if err != nil {
			t.Fatal(err)
		}
		if slug == "held" {
			h := ProcessHolder{Slug: slug, Generation: res.Lease.Generation, RunID: "r", Kind: TreeCgroup, Cgroup: "x"}
			if err := m.Hold(ctx, h, false, false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.ReleaseForce(ctx, slug, 0, time.Second); err != nil {
			t.Fatalf("ReleaseForce(%q) = %v", slug, err)
		}
	}
	want := map[string]Reason{"held": ReasonForced, "free": ""}
	evs, err := m.Events(ctx, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	released := 0
	for _, e := range evs {
		if e.Kind != EventRelease {
			continue
		}
		released++
		if e.Reason != want[e.Slug] {
			t.Errorf("release of %s logged with reason %q, want %q", e.Slug, e.Reason, want[e.Slug])
		}
	}
	if released != len(want) {
		t.Errorf("%d release events logged, want %d", released, len(want))
	}
}
