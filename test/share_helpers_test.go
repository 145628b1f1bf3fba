package test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// shareUser is a user the test made, with a home of their own.
type shareUser struct {
	name     string
	uid, gid uint32
	groups   []uint32 // supplementary groups the processes get
	home     string
	db       string
}

// shareEnv is a host of several users: a group, two members and one
// outsider, made with groupadd and useradd and removed at the end; the
// binaries copied where they all may run them; a shared place path under
// a root-owned directory that anyone may write in (sticky, as /tmp is),
// so that a user can squat it.
type shareEnv struct {
	group    string
	gid      uint32
	dockerG  uint32 // the docker socket's group, for the processes that ask Docker
	u1, u2   *shareUser
	outsider *shareUser
	base     string
	shared   string
	bin      string
	crash    string
	pool     testPool
}

func newShareEnv(t *testing.T) *shareEnv {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root, to make users and the shared place")
	}
	b := make([]byte, 3)
	rand.Read(b)
	tag := hex.EncodeToString(b)
	e := &shareEnv{group: "alsh" + tag, pool: freePool(t, 32)}
	sh(t, "groupadd", e.group)
	t.Cleanup(func() { exec.Command("groupdel", e.group).Run() })
	g, err := user.LookupGroup(e.group)
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.ParseUint(g.Gid, 10, 32)
	e.gid = uint32(gid)
	if st, err := os.Stat("/var/run/docker.sock"); err == nil {
		e.dockerG = st.Sys().(*syscall.Stat_t).Gid
	}
	if e.base, err = os.MkdirTemp("", "aliaslease-share"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(e.base) })
	os.Chmod(e.base, 0o755)
	run := filepath.Join(e.base, "run")
	os.Mkdir(run, 0o755)
	os.Chmod(run, os.ModeSticky|0o777) // as /tmp: anyone may make an entry, sticky
	e.shared = filepath.Join(run, "shared")
	e.bin, e.crash = copyExe(t, e.base, bin), copyExe(t, e.base, crashBin)
	e.u1 = e.addUser(t, "alsa"+tag, true)
	e.u2 = e.addUser(t, "alsb"+tag, true)
	e.outsider = e.addUser(t, "alsc"+tag, false)
	return e
}

// addUser makes a user (in the group when member), with a home of theirs.
func (e *shareEnv) addUser(t *testing.T, name string, member bool) *shareUser {
	t.Helper()
	args := []string{"-M", "-N", "-s", "/bin/sh"}
	if member {
		args = append(args, "-G", e.group)
	}
	sh(t, "useradd", append(args, name)...)
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	su := &shareUser{name: name, uid: uint32(uid), gid: uint32(gid), home: filepath.Join(e.base, name)}
	if member {
		su.groups = append(su.groups, e.gid)
	}
	if e.dockerG != 0 {
		su.groups = append(su.groups, e.dockerG) // docker-group members: root-equivalent, as the threat model says
	}
	os.Mkdir(su.home, 0o700)
	os.Chown(su.home, int(uid), int(gid))
	su.db = filepath.Join(su.home, "state", "leases.db")
	return su
}

// command is exe run as u (root for nil) with the shared place, u's
// database and the test's pool.
func (e *shareEnv) command(u *shareUser, exe string, env []string, args ...string) *exec.Cmd {
	base := []string{"ALIASLEASE_SHARED_DIR=" + e.shared, "ALIASLEASE_POOL=" + e.pool.spec(), "ALIASLEASE_DOCKER=off"}
	if u == nil {
		cmd := command(exe, append(base, env...), args...)
		return cmd
	}
	base = append(base, "HOME="+u.home, "ALIASLEASE_DB="+u.db)
	cmd := command(exe, append(base, env...), args...)
	cmd.Dir = u.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}}
	return cmd
}

// cli runs aliaslease as u to its end.
func (e *shareEnv) cli(t *testing.T, u *shareUser, env []string, args ...string) result {
	t.Helper()
	return finish(t, e.command(u, e.bin, env, args...))
}

// acquire runs acquire SLUG --no-ifup as u and returns the alias, failing
// the test unless it exits 0.
func (e *shareEnv) acquire(t *testing.T, u *shareUser, slug string, env ...string) string {
	t.Helper()
	r := e.cli(t, u, env, "acquire", "--no-ifup", slug)
	if r.code != 0 {
		t.Fatalf("acquire %s as %s: %v", slug, u.name, r)
	}
	return strings.TrimSpace(r.stdout)
}

// sh runs a system command of the setup, failing the test on an error.
func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// claimPath is the claim entry of u's on alias.
func (e *shareEnv) claimPath(u *shareUser, alias string) string {
	return filepath.Join(e.shared, alias+"@"+strconv.FormatUint(uint64(u.uid), 10))
}
