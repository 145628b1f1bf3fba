package doctor

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// Each lease's isolation is reported, and a leaky or cut-off one warned
// of (a warning: the report stays healthy).
func TestReportIsolation(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	mk := func(slug, verdict string) lease.Decision {
		a := netip.AddrFrom4([4]byte{127, 0, 0, byte(16 + len(slug))})
		l := lease.Lease{Slug: slug, Alias: a, Isolation: lease.Isolation{Verdict: verdict}}
		if verdict != "" {
			l.Isolation.At = at
		}
		return lease.Decision{Alias: a, Lease: l}
	}
	ds := []lease.Decision{mk("a", lease.VerdictIsolated), mk("bb", lease.VerdictLeaky), mk("ccc", lease.VerdictCutOff), mk("dddd", ""),
		{Alias: netip.MustParseAddr("127.0.0.30"), State: lease.Foreign}}
	var r Report
	r.isolation(ds, nil)
	want := map[string]string{"a": "verified", "bb": "leaky", "ccc": "cut-off", "dddd": "unverified"}
	if len(r.Isolation.Leases) != len(want) {
		t.Fatalf("isolation leases = %+v, want %d", r.Isolation.Leases, len(want))
	}
	for _, l := range r.Isolation.Leases {
		if l.Isolation != want[l.Slug] || (l.VerifiedAt == nil) != (l.Slug == "dddd") {
			t.Errorf("lease %s: %q verified at %v, want %q", l.Slug, l.Isolation, l.VerifiedAt, want[l.Slug])
		}
	}
	if len(r.Warnings) != 2 || !strings.Contains(r.Warnings[0].Detail, "bb") || !strings.Contains(r.Warnings[1].Detail, "ccc") {
		t.Errorf("warnings = %+v, want one for bb (leaky) and one for ccc (cut-off)", r.Warnings)
	}
}

// The report says per platform what enforces isolation: on macOS,
// nothing of aliaslease's.
func TestEnforcement(t *testing.T) {
	tests := []struct{ goos, want string }{
		{"linux", "one it starts (run --confine) or one someone else started (confine --cgroup or --pid)"},
		{"darwin", "aliaslease cannot confine a bottle: only the VMM's own allow-list can"},
		{"freebsd", "aliaslease cannot confine"},
	}
	for _, tt := range tests {
		if got := enforcement(tt.goos); !strings.Contains(got, tt.want) || !strings.Contains(got, "verify") {
			t.Errorf("enforcement(%q) = %q, want it to say %q and name verify", tt.goos, got, tt.want)
		}
	}
}

// A verdict from before a lease's confinement began is not warned of: the
// lease shows confined, and the report does not contradict itself; one
// found since is.
func TestReportIsolationConfinedSince(t *testing.T) {
	verified := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		since    time.Time
		want     string
		warnings int
	}{
		{since: verified.Add(time.Minute), want: "confined", warnings: 0},
		{since: verified.Add(-time.Minute), want: "leaky", warnings: 1},
	} {
		a := netip.MustParseAddr("127.0.0.16")
		h := lease.ProcessHolder{Slug: "vm", RunID: "r", Kind: lease.TreeCgroup, Cgroup: "/x",
			Confined: &lease.Confinement{Alias: a, CgroupID: 7, Level: 1, Since: tt.since}}
		l := lease.Lease{Slug: "vm", Alias: a, Isolation: lease.Isolation{Verdict: lease.VerdictLeaky, At: verified}, Processes: []lease.ProcessHolder{h}}
		var r Report
		r.isolation([]lease.Decision{{Alias: a, Lease: l}}, map[string][]lease.ProcessHolder{"vm": {h}})
		if got := r.Isolation.Leases[0].Isolation; got != tt.want || len(r.Warnings) != tt.warnings {
			t.Errorf("leaky at %v, confined since %v: isolation %q with warnings %+v; want %q with %d", verified, tt.since, got, r.Warnings, tt.want, tt.warnings)
		}
	}
}
