//go:build !aliaslease_crash

package lease

// crashPoint marks a place where the reliability suite may kill the
// process; it compiles to nothing without the aliaslease_crash build tag.
func crashPoint(string) {}
