package lease

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A verdict is recorded for the lease's generation: renewal keeps it, a
// release or a new lease of the slug resets it, and a verdict for a
// generation that is gone is refused.
func TestRecordIsolation(t *testing.T) {
	m, _ := testManager(t, nil, InventoryOff)
	ctx := context.Background()
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	res, err := m.Acquire(ctx, "bottle", 0)
	if err != nil {
		t.Fatal(err)
	}
	gen := res.Lease.Generation
	if err := m.RecordIsolation(ctx, "bottle", gen, VerdictLeaky, at); err != nil {
		t.Fatalf("RecordIsolation(%q, %d) = %v, want nil", "bottle", gen, err)
	}
	check := func(step, want string) {
		t.Helper()
		l, err := m.Lease(ctx, "bottle")
		if err != nil {
			t.Fatalf("%s: Lease(%q) = %v", step, "bottle", err)
		}
		if l.Isolation.Verdict != want {
			t.Errorf("%s: Lease(%q).Isolation.Verdict = %q, want %q", step, "bottle", l.Isolation.Verdict, want)
		}
		ls, err := m.Leases(ctx)
		if err != nil || len(ls) != 1 || ls[0].Isolation.Verdict != want {
			t.Errorf("%s: Leases() = %+v, %v, want one lease with verdict %q", step, ls, err, want)
		}
		ds, err := m.List(ctx)
		if err != nil || len(ds) != 1 || ds[0].Lease.Isolation.Verdict != want {
			t.Errorf("%s: List() = %+v, %v, want one lease with verdict %q", step, ds, err, want)
		}
	}
	check("recorded", VerdictLeaky)
	if l, _ := m.Lease(ctx, "bottle"); !l.Isolation.At.Equal(at) {
		t.Errorf("Isolation.At = %v, want %v", l.Isolation.At, at)
	}
	if _, err := m.Acquire(ctx, "bottle", 0); err != nil { // a renewal: the same lease
		t.Fatal(err)
	}
	check("renewed", VerdictLeaky)
	if err := m.RecordIsolation(ctx, "bottle", gen+1, VerdictIsolated, at); !errors.Is(err, ErrGenerationMismatch) {
		t.Errorf("RecordIsolation(gen+1) = %v, want %v", err, ErrGenerationMismatch)
	}
	if err := m.RecordIsolation(ctx, "bottle", gen, "fine", at); err == nil {
		t.Errorf("RecordIsolation(verdict %q) = nil, want an error", "fine")
	}
	check("refused ones", VerdictLeaky)
	if _, err := m.Release(ctx, "bottle", gen); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Acquire(ctx, "bottle", 0); err != nil {
		t.Fatal(err)
	}
	check("new lease", "")
}

// A record of another generation is void even when the bucket still
// holds it (an older binary's release does not remove it).
func TestIsolationOfAnotherGeneration(t *testing.T) {
	tests := []struct {
		name   string
		rec    []byte
		gen    uint64
		wantOK bool
	}{
		{"its generation", encodeIsolation(Isolation{Verdict: VerdictIsolated, At: time.Unix(5, 0), gen: 7}), 7, true},
		{"another generation", encodeIsolation(Isolation{Verdict: VerdictIsolated, At: time.Unix(5, 0), gen: 7}), 8, false},
		{"newer bytes after it", append(encodeIsolation(Isolation{Verdict: VerdictCutOff, gen: 7}), 1, 2, 3), 7, true},
		{"unknown verdict", encodeIsolation(Isolation{Verdict: "maybe", gen: 7}), 7, false},
		{"truncated", encodeIsolation(Isolation{Verdict: VerdictLeaky, gen: 7})[:20], 7, false},
		{"other version", append([]byte{2}, encodeIsolation(Isolation{Verdict: VerdictLeaky, gen: 7})[1:]...), 7, false},
	}
	for _, tt := range tests {
		got := isolationFor(decodeIsolation(tt.rec), tt.gen)
		if (got.Verdict != "") != tt.wantOK {
			t.Errorf("%s: isolationFor(decodeIsolation(%x), %d) = %+v, want verdict: %v", tt.name, tt.rec, tt.gen, got, tt.wantOK)
		}
	}
}

// FuzzDecodeIsolation: any record decodes without panicking, and one it
// accepts encodes back to its first bytes.
func FuzzDecodeIsolation(f *testing.F) {
	f.Add(encodeIsolation(Isolation{Verdict: VerdictLeaky, At: time.Unix(9, 9), gen: 3}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		v := decodeIsolation(b)
		if v.Verdict == "" {
			return
		}
		if enc := encodeIsolation(v); string(enc) != string(b[:len(enc)]) {
			t.Errorf("encodeIsolation(decodeIsolation(%x)) = %x, want its prefix", b, enc)
		}
	})
}
