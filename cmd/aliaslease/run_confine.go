package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/internal/confine"
)

// errConfine is a confinement that could not be set up (run --confine,
// confine): exit 9, as verify's finding is (not 125: isolation is named),
// the command never started, nothing of the confinement left behind. The
// error wrapping it names the missing part.
var errConfine = errors.New("isolation could not be set up")

// runConfineArgs are run's flags of a confinement.
type runConfineArgs struct {
	on    bool            // --confine
	user  string          // --user
	allow cli.StringSlice // --confine-allow, repeatable
}

func (a *runConfineArgs) flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "confine", Destination: &a.on,
			Usage: "run COMMAND confined (Linux, as root): a cgroup of its own, as an unprivileged user, reaching no local address but its alias"},
		&cli.StringFlag{Name: "user", Destination: &a.user,
			Usage: "with --confine, run COMMAND as user `NAME` (default: the user who called sudo; never root)"},
		&cli.StringSliceFlag{Name: "confine-allow", Destination: &a.allow,
			Usage: "with --confine, let COMMAND reach `ADDR:PORT` too (TCP and UDP; repeatable)"},
	}
}

// confineSpec is what a confined run was asked for, checked before
// anything is acquired.
type confineSpec struct {
	cred  *syscall.Credential
	env   []string // HOME, USER, LOGNAME of the user
	allow []netip.AddrPort
}

// prepare checks the confinement's flags and resolves its user: nil
// without --confine. Bad flags are usage errors (2); then a host or a
// caller that cannot confine at all (not Linux, not root) is errConfine
// (9); then a command that would run as root is a usage error again.
func (a *runConfineArgs) prepare() (*confineSpec, error) {
	if !a.on {
		if a.user != "" {
			return nil, usagef("run: --user needs --confine")
		}
		if len(a.allow.Value()) > 0 {
			return nil, usagef("run: --confine-allow needs --confine")
		}
		return nil, nil
	}
	spec := &confineSpec{}
	for _, s := range a.allow.Value() {
		ap, err := confine.ParseAllow(s)
		if err != nil {
			return nil, usagef("--confine-allow: %v", err)
		}
		spec.allow = append(spec.allow, ap)
	}
	switch {
	case runtime.GOOS != "linux":
		return nil, fmt.Errorf("run --confine: %w: aliaslease confines on Linux only (on %s, the VMM's own allow-list must; check it with verify)", errConfine, runtime.GOOS)
	case os.Geteuid() != 0:
		return nil, fmt.Errorf("run --confine: %w: not root (it makes a cgroup and firewall rules: start it with sudo)", errConfine)
	}
	u, err := confineUser(a.user)
	if err != nil {
		return nil, err
	}
	if spec.cred, err = credential(u); err != nil {
		return nil, err
	}
	spec.env = []string{"USER=" + u.Username, "LOGNAME=" + u.Username}
	if u.HomeDir != "" {
		spec.env = append(spec.env, "HOME="+u.HomeDir)
	}
	return spec, nil
}

// confineUser is the user a confined command runs as: --user NAME, else
// the user who called sudo; never root.
func confineUser(name string) (*user.User, error) {
	var u *user.User
	var err error
	switch {
	case name != "":
		if u, err = user.Lookup(name); err != nil {
			if _, numErr := strconv.ParseUint(name, 10, 32); numErr == nil {
				u, err = user.LookupId(name)
			}
		}
		if err != nil {
			return nil, usagef("--user %q: no such user", name)
		}
	case os.Getenv("SUDO_UID") != "":
		id := os.Getenv("SUDO_UID")
		if u, err = user.LookupId(id); err != nil {
			return nil, usagef("run --confine: the sudo caller's uid %q is no user here; give --user NAME", id)
		}
	default:
		return nil, usagef("run --confine: no user to run COMMAND as: give --user NAME, or start it with sudo as that user (COMMAND never runs as root)")
	}
	if u.Uid == "0" {
		return nil, usagef("run --confine: refusing to run COMMAND as %s (uid 0): a confined command runs as an unprivileged user (--user NAME)", u.Username)
	}
	return u, nil
}

// credential is u's uid, gid and supplementary groups (its own, never the
// wrapper's).
func credential(u *user.User) (*syscall.Credential, error) {
	num := func(s string) (uint32, error) {
		n, err := strconv.ParseUint(s, 10, 32)
		return uint32(n), err
	}
	uid, err := num(u.Uid)
	if err != nil {
		return nil, usagef("user %q: uid %q is not a number", u.Username, u.Uid)
	}
	gid, err := num(u.Gid)
	if err != nil {
		return nil, usagef("user %q: gid %q is not a number", u.Username, u.Gid)
	}
	cred := &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{gid}}
	ids, _ := u.GroupIds() // none readable: its primary group only
	for _, s := range ids {
		if g, err := num(s); err == nil && g != gid {
			cred.Groups = append(cred.Groups, g)
		}
	}
	return cred, nil
}
