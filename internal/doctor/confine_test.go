package doctor

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

type fakeFirewall struct {
	rules   []Rules
	err     error
	exposed []string
}

func (f fakeFirewall) Confinements() ([]Rules, error) { return f.rules, f.err }

func (f fakeFirewall) Exposed(context.Context) ([]string, error) { return f.exposed, nil }

// fakeTrees says the trees whose run id is in live live.
type fakeTrees map[string]bool

func (f fakeTrees) Alive(h lease.ProcessHolder) (bool, error) { return f[h.RunID], nil }
func (f fakeTrees) End(context.Context, lease.ProcessHolder, time.Duration) error {
	return errors.ErrUnsupported
}

func TestConfinements(t *testing.T) {
	conf := func(id uint64) *lease.Confinement {
		return &lease.Confinement{Alias: netip.MustParseAddr("127.0.0.16"), CgroupID: id, Level: 2, Since: time.Unix(1, 0)}
	}
	ds := []lease.Decision{{Lease: lease.Lease{Slug: "a", Alias: netip.MustParseAddr("127.0.0.16"), Processes: []lease.ProcessHolder{
		{Slug: "a", RunID: "r1", Kind: lease.TreeCgroup, Cgroup: "a.1.r1", Confined: conf(11)},
		{Slug: "a", RunID: "r2", Kind: lease.TreeCgroup, Cgroup: "a.1.r2"},
	}}}}
	tests := []struct {
		name                string
		live                fakeTrees
		fw                  fakeFirewall
		problems, warnings  int
		problemSays, warned string
	}{
		{"rules in place", fakeTrees{"r1": true}, fakeFirewall{rules: []Rules{{CgroupID: 11, Complete: true, Live: true}}}, 0, 0, "", ""},
		{"rules missing", fakeTrees{"r1": true}, fakeFirewall{}, 1, 0, "a on 127.0.0.16: the rules of its confined cgroup a.1.r1 are missing", ""},
		{"rules incomplete", fakeTrees{"r1": true}, fakeFirewall{rules: []Rules{{CgroupID: 11, Live: true}}}, 1, 0, "missing from the firewall", ""},
		{"tree gone", fakeTrees{}, fakeFirewall{}, 0, 0, "", ""},
		{"another allocator's", fakeTrees{"r1": true}, fakeFirewall{rules: []Rules{{CgroupID: 11, Complete: true, Live: true}, {CgroupID: 99, Complete: true, Live: true}}}, 0, 1, "", "cgroup(s) 99 that no lease"},
		{"another's, cgroup empty", fakeTrees{}, fakeFirewall{rules: []Rules{{CgroupID: 99, Complete: true}}}, 0, 0, "", ""},
		{"not root", fakeTrees{"r1": true}, fakeFirewall{err: os.ErrPermission}, 0, 1, "", "cannot read the firewall"},
		{"not root, nothing confined", fakeTrees{}, fakeFirewall{err: os.ErrPermission}, 0, 0, "", ""},
		{"a service on 0.0.0.0", fakeTrees{"r1": true}, fakeFirewall{rules: []Rules{{CgroupID: 11, Complete: true, Live: true}}, exposed: []string{"tcp 0.0.0.0:5432 (postgres)"}}, 0, 1, "", "1 confined tree(s) reach, through their own alias, every host service bound on all addresses: tcp 0.0.0.0:5432 (postgres)"},
		{"a service on 0.0.0.0, nothing confined", fakeTrees{}, fakeFirewall{exposed: []string{"tcp 0.0.0.0:5432"}}, 0, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Manager: &lease.Manager{Trees: tt.live}, Firewall: tt.fw}
			r := &Report{}
			r.confinements(t.Context(), cfg, ds, liveConfined(cfg, ds))
			if len(r.Problems) != tt.problems || len(r.Warnings) != tt.warnings {
				t.Fatalf("confinements: problems %v, warnings %v; want %d and %d", r.Problems, r.Warnings, tt.problems, tt.warnings)
			}
			if tt.problems > 0 && !strings.Contains(r.Problems[0].Detail, tt.problemSays) {
				t.Errorf("problem %q, want it to say %q", r.Problems[0].Detail, tt.problemSays)
			}
			if tt.warnings > 0 && !strings.Contains(r.Warnings[0].Detail, tt.warned) {
				t.Errorf("warning %q, want it to say %q", r.Warnings[0].Detail, tt.warned)
			}
		})
	}
}

func TestIsolationOf(t *testing.T) {
	since := time.Unix(100, 0)
	cs := []lease.ProcessHolder{{Confined: &lease.Confinement{Since: since}}}
	tests := []struct {
		name    string
		verdict string
		at      time.Time
		cs      []lease.ProcessHolder
		want    string
	}{
		{"unverified, not confined", "", time.Time{}, nil, "unverified"},
		{"confined", "", time.Time{}, cs, "confined"},
		{"confined, verified", lease.VerdictIsolated, since.Add(time.Second), cs, "confined"},
		{"leaky since confined", lease.VerdictLeaky, since.Add(time.Second), cs, "leaky"},
		{"leaky before confined", lease.VerdictLeaky, since.Add(-time.Second), cs, "confined"},
		{"cut-off since confined", lease.VerdictCutOff, since.Add(time.Second), cs, "cut-off"},
	}
	for _, tt := range tests {
		l := lease.Lease{Isolation: lease.Isolation{Verdict: tt.verdict, At: tt.at}}
		if got := IsolationOf(l, tt.cs); got != tt.want {
			t.Errorf("%s: IsolationOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}
