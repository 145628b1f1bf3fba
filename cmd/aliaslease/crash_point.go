//go:build !aliaslease_crash

package main

// crashAt marks a place of the CLI where the reliability suite may kill
// the process (as lease's crash points do); it compiles to nothing
// without the aliaslease_crash build tag.
func crashAt(string) {}
