package doctor

// Trees is how "aliaslease run" holds its command's process tree on this
// system, as the CLI finds it (the doctor imports no isolation code).
type Trees struct {
	// Kind is "cgroup" (exact: nothing of the tree can leave it) or
	// "process group" (weaker: see Escapes).
	Kind string `json:"kind"`
	// Detail is where the cgroups are made, or why none can be.
	Detail string `json:"detail"`
	// Escapes says what is not held by a process group; empty for a
	// cgroup.
	Escapes string `json:"escapes,omitempty"`
}

// trees records how run holds its trees, and warns when that is a
// process group, saying plainly what escapes it.
func (r *Report) trees(cfg Config) {
	if cfg.Trees == nil {
		return
	}
	r.Trees = cfg.Trees
	if r.Trees.Kind != "cgroup" {
		r.Warnings = append(r.Warnings, Problem{Kind: "process-trees",
			Detail: "run holds its command's tree as a process group, not a cgroup (" + r.Trees.Detail + "): " + r.Trees.Escapes,
			Hint:   "for a cgroup of its own, run as root, or inside a systemd unit with Delegate=yes"})
	}
}
