//go:build !linux

package testsubtree

// Hold holds nothing here: there is no cgroup subtree.
func Hold(string) func() { return func() {} }
