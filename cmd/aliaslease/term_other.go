//go:build !linux && !darwin

package main

import "os"

// isTerminal is false where aliaslease cannot tell; run then forwards
// SIGINT like any other signal.
func isTerminal(*os.File) bool { return false }
