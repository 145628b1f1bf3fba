package doctor

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
)

// wildcards records the bindings on 0.0.0.0 or :: in hs, one per
// container and port (Docker publishes a port on both by default), and
// reports each: as a problem when it concerns aliaslease (its container
// is labelled for a slug, whose bundle should publish on its alias, or a
// holder of a leased or pool alias publishes the same host port, which
// the wildcard blocks), else as a warning (some other service of the
// host, which blocks that port on every alias but holds no lease up).
func (r *Report) wildcards(hs []lease.Holder, pool lease.Pool, leases []lease.Lease) {
	leased := map[netip.Addr]bool{}
	for _, l := range leases {
		leased[l.Alias] = true
	}
	used := map[string]bool{} // host ports published on leased or pool aliases
	for _, h := range hs {
		if !h.Alias.IsUnspecified() && (leased[h.Alias] || pool.Contains(h.Alias)) {
			used[hostPort(h.Port)] = true
		}
	}
	at := map[string]int{}
	concerns := map[int]bool{}
	for _, h := range hs {
		if !h.Alias.IsUnspecified() {
			continue
		}
		key := h.ID + "\x00" + h.Name + "\x00" + h.Port
		i, seen := at[key]
		if !seen {
			i = len(r.Wildcards)
			at[key] = i
			r.Wildcards = append(r.Wildcards, Wildcard{Container: h.Name, HostIP: h.Alias.String(), Port: h.Port})
		} else if !strings.Contains(r.Wildcards[i].HostIP, h.Alias.String()) {
			r.Wildcards[i].HostIP += "," + h.Alias.String()
		}
		concerns[i] = concerns[i] || h.Slug != "" || used[hostPort(h.Port)]
	}
	order := make([]int, len(r.Wildcards))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return r.Wildcards[order[a]].Container < r.Wildcards[order[b]].Container })
	sorted := make([]Wildcard, len(order))
	for k, i := range order {
		w := r.Wildcards[i]
		sorted[k] = w
		p := Problem{Kind: "wildcard", Detail: fmt.Sprintf("container %s publishes %s on all addresses (%s)", w.Container, w.Port, w.HostIP)}
		if concerns[i] {
			p.Hint = "publish it on its bottle's alias (-p ALIAS:PORT:PORT); a binding on every address blocks that port on every alias"
			r.Problems = append(r.Problems, p)
		} else {
			p.Hint = "no lease or pool alias uses that port now; it blocks it on every alias, so publish it on one address (-p ADDR:PORT:PORT) if a bottle may need it"
			r.Warnings = append(r.Warnings, p)
		}
	}
	r.Wildcards = sorted
}

// hostPort is the host side of a binding, "8080/tcp" of
// "8080->80/tcp", or a listener's "8080/tcp" as it is.
func hostPort(binding string) string {
	host, rest, ok := strings.Cut(binding, "->")
	if !ok {
		return binding
	}
	if _, proto, ok := strings.Cut(rest, "/"); ok {
		return host + "/" + proto
	}
	return host
}
