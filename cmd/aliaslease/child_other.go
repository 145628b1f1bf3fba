//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing where the kernel offers no parent-death
// signal (macOS): the command's process group, recorded as the lease's
// holder, keeps the alias from gc while any process of it runs.
func dieWithParent(*exec.Cmd) {}
