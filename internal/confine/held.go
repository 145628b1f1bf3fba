package confine

import "errors"

// ErrCgroupPath is a --cgroup argument that cannot be confined: not a
// cgroup2 directory, the root (every process of the host), or one that
// holds aliaslease's own subtree.
var ErrCgroupPath = errors.New("not a cgroup that can be confined")
