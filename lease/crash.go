//go:build !aliaslease_crash

package lease

// crashPoint marks a place where the reliability suite may kill the
// process; it compiles to nothing without the aliaslease_crash build tag.
func crashPoint(string) {}

// stepClocks is the reliability suite's seam for clock steps; without
// the aliaslease_crash build tag the clocks are read as they are.
func stepClocks(t instant) instant { return t }
