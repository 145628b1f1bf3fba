package confine

import "errors"

// ErrCgroupPath is a --cgroup argument that cannot be confined: not a
// cgroup2 directory, the root (every process of the host), or one that
// holds aliaslease's own subtree.
var ErrCgroupPath = errors.New("not a cgroup that can be confined")

// ErrNotBottle is a --cgroup whose processes are plainly not a bottle's:
// confining it would cut the host itself, a container engine or the
// shell that ran confine off from the host's other addresses.
var ErrNotBottle = errors.New("holds processes that are not a bottle's")
