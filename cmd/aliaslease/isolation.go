package main

import "github.com/aliaslease/aliaslease/lease"

// isolationOf is what list and metrics say of a lease's isolation (see
// lease.Isolation.Status). "confined", a lease whose tree runs confined,
// is the confinement's to say once run --confine records it.
func isolationOf(l lease.Lease) string { return l.Isolation.Status() }
