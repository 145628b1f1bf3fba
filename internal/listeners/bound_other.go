//go:build !linux && !darwin

package listeners

import (
	"context"
)

func bound(context.Context, addrSet, via) ([]Socket, error) { return nil, ErrUnsupported }

func owners([]Socket) (map[uint64]Process, error) { return nil, ErrUnsupported }

func hostNetns() (same, known bool, err error) { return false, false, ErrUnsupported }
