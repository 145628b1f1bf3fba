package doctor

import (
	"strings"
	"testing"
)

// TestTreesWarning checks that a process group, and only it, is a
// warning that names what escapes, and never a problem.
func TestTreesWarning(t *testing.T) {
	for _, c := range []struct {
		name  string
		trees *Trees
		warns bool
	}{
		{"none", nil, false},
		{"cgroup", &Trees{Kind: "cgroup", Detail: "/sys/fs/cgroup/aliaslease"}, false},
		{"process group", &Trees{Kind: "process group", Detail: "no cgroup v2 available", Escapes: "a descendant that calls setsid"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &Report{}
			r.trees(Config{Trees: c.trees})
			if r.Trees != c.trees || len(r.Problems) != 0 {
				t.Errorf("trees(%+v): Trees %+v, problems %v; want the same Trees, no problem", c.trees, r.Trees, r.Problems)
			}
			warned := len(r.Warnings) == 1 && strings.Contains(r.Warnings[0].Detail, "setsid")
			if warned != c.warns || len(r.Warnings) > 1 {
				t.Errorf("trees(%+v): warnings %v, want a warning naming what escapes: %v", c.trees, r.Warnings, c.warns)
			}
		})
	}
}
