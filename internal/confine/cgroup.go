package confine

// Root is the cgroup subtree this process may make groups in.
type Root struct {
	// Mount is where the cgroup2 file system is mounted.
	Mount string
	// Dir is aliaslease's own subtree: every group is a directory in it.
	Dir string
	// Delegated is true when Dir lies in a subtree delegated to this
	// (non-root) user rather than one made as root.
	Delegated bool

	level uint32 // depth of Dir below the cgroup2 root
	path  string // Dir as /proc/PID/cgroup names it ("/aliaslease")
	mroot string // the cgroup at Mount as /proc/PID/cgroup names it ("/")
}

// subtreeName is the directory of aliaslease's subtree.
const subtreeName = "aliaslease"

// Entry is one group found by List.
type Entry struct {
	Name      string // the group's directory name (ParseRunName reads a run's)
	Populated bool   // whether any process lives in it now
}
