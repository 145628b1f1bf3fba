package main

import "github.com/aliaslease/aliaslease/lease"

// isolationOf is what list, metrics and doctor say of a lease's
// isolation: "verified" when verify found it isolated for this
// generation, "leaky" or "cut-off" when it found otherwise, "unverified"
// when it never ran for it. ("confined", a lease whose tree runs confined,
// is the confinement's to say once run --confine records it.)
func isolationOf(l lease.Lease) string {
	switch l.Isolation.Verdict {
	case lease.VerdictIsolated:
		return "verified"
	case lease.VerdictLeaky:
		return "leaky"
	case lease.VerdictCutOff:
		return "cut-off"
	}
	return "unverified"
}
