//go:build !linux

package confine

// CgroupPath fails: there are no cgroups here.
func (r Root) CgroupPath(arg string) (string, error) { return "", errNone() }

// OpenCgroup fails: there are no cgroups here.
func (r Root) OpenCgroup(rel string) (*Group, error) { return nil, errNone() }

// Adopt fails: there are no cgroups here.
func (g *Group) Adopt(pid int) ([]int, error) { return nil, errNone() }

// CgroupOf fails: there are no cgroups here.
func CgroupOf(pid int) (string, error) { return "", errNone() }

// Holds is false: there are no cgroups here.
func (r Root) Holds(p string) bool { return false }

// RemoveGone fails: there are no cgroups here.
func RemoveGone(fw *Firewall) ([]uint64, error) { return nil, errNone() }

// CgroupState fails: there are no cgroups here.
func CgroupState(id uint64) (exists, populated bool, err error) { return false, false, errNone() }

// CheckTenants fails: there are no cgroups here.
func (r Root) CheckTenants(rel string) error { return errNone() }

// CheckTenant fails: there are no cgroups here.
func CheckTenant(pid int) error { return errNone() }
