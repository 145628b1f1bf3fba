package doctor

import (
	"fmt"
	"runtime"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// Isolation is what the report says of isolation: what enforces it on
// this platform, and each lease's last verify verdict.
type Isolation struct {
	Platform string `json:"platform"`
	// Enforced says what enforces isolation here, and what does not.
	Enforced string           `json:"enforced_by"`
	Leases   []LeaseIsolation `json:"leases"`
}

// LeaseIsolation is one lease's isolation: verified, leaky, cut-off or
// unverified, and when verify found it.
type LeaseIsolation struct {
	Slug       string     `json:"slug"`
	Alias      string     `json:"alias"`
	Isolation  string     `json:"isolation"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
}

// enforcement says, per platform, what enforces isolation.
func enforcement(goos string) string {
	switch goos {
	case "linux":
		return "on Linux aliaslease can confine a bottle, as root: one it starts (run --confine) or one someone else started (confine --cgroup or --pid), in a cgroup whose nftables rules refuse every host address but its alias; any other bottle is confined only by its VMM's or container network's own rules, and only verify can tell whether they hold"
	case "darwin":
		return "on macOS aliaslease cannot confine a bottle: only the VMM's own allow-list can, and only verify can tell whether it does"
	}
	return "on " + goos + " aliaslease cannot confine a bottle: only its VMM or sandbox can, and only verify can tell whether it does"
}

// isolation records each lease's isolation, and warns of a lease verify
// found leaky or cut-off (since its confinement began, for a confined one).
func (r *Report) isolation(decisions []lease.Decision, confined map[string][]lease.ProcessHolder) {
	r.Isolation = Isolation{Platform: runtime.GOOS, Enforced: enforcement(runtime.GOOS), Leases: []LeaseIsolation{}}
	for _, d := range decisions {
		l := d.Lease
		if l.Slug == "" {
			continue
		}
		li := LeaseIsolation{Slug: l.Slug, Alias: l.Alias.String(), Isolation: IsolationOf(l, confined[l.Slug])}
		if !l.Isolation.At.IsZero() {
			at := l.Isolation.At
			li.VerifiedAt = &at
		}
		r.Isolation.Leases = append(r.Isolation.Leases, li)
		switch li.Isolation { // as shown: a verdict from before a confinement began is not warned of
		case lease.VerdictLeaky:
			r.Warnings = append(r.Warnings, Problem{Kind: "isolation",
				Detail: fmt.Sprintf("verify found %s on %s leaky at %s: its bottle reaches other addresses of the host", l.Slug, l.Alias, l.Isolation.At.Format(time.RFC3339)),
				Hint:   "confine it (run --confine on Linux) or fix its VMM's allow-list, then run aliaslease verify " + l.Slug + " again"})
		case lease.VerdictCutOff:
			r.Warnings = append(r.Warnings, Problem{Kind: "isolation",
				Detail: fmt.Sprintf("verify found %s on %s cut-off at %s: its probe reached nothing, not even its own alias", l.Slug, l.Alias, l.Isolation.At.Format(time.RFC3339)),
				Hint:   "check that verify's PREFIX runs an aliaslease binary inside the bottle, and --via for a VM guest"})
		}
	}
}
