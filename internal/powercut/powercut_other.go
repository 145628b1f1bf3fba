//go:build !linux

package powercut

import "errors"

// Available says why a simulator cannot be mounted here: it serves FUSE
// with Linux's mount(2), and exists only on Linux.
func Available() error {
	return errors.New("the power-cut simulator needs Linux (FUSE via mount(2))")
}
