package main

import (
	"errors"
	"os/user"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestConfineArgsUsage(t *testing.T) {
	tests := []struct {
		name string
		args runConfineArgs
		want string // in the usage error
	}{
		{"--user without --confine", runConfineArgs{user: "nobody"}, "--user needs --confine"},
		{"--confine-allow without --confine", runConfineArgs{allow: *cli.NewStringSlice("127.0.0.1:53")}, "--confine-allow needs --confine"},
		{"port 0", runConfineArgs{on: true, allow: *cli.NewStringSlice("127.0.0.1:0")}, "port 0"},
		{"a name", runConfineArgs{on: true, allow: *cli.NewStringSlice("localhost:53")}, "not ADDR:PORT"},
		{"no port", runConfineArgs{on: true, allow: *cli.NewStringSlice("127.0.0.1")}, "not ADDR:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.args.prepare()
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("prepare(%+v) = %v, want a usage error naming %q", tt.args, err, tt.want)
			}
		})
	}
	if spec, err := (&runConfineArgs{}).prepare(); spec != nil || err != nil {
		t.Errorf("prepare() without --confine = %v, %v; want nil, nil", spec, err)
	}
}

func TestCredential(t *testing.T) {
	tests := []struct {
		name       string
		u          user.User
		wantGroups []uint32
		wantErr    bool
	}{
		// A user /etc/group does not know: its primary group only.
		{"unknown to /etc/group", user.User{Username: "aliaslease-no-such-user", Uid: "4242", Gid: "4243"}, []uint32{4243}, false},
		{"uid not a number", user.User{Username: "x", Uid: "x", Gid: "1"}, nil, true},
		{"gid not a number", user.User{Username: "x", Uid: "1", Gid: "-1"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := credential(&tt.u)
			if (err != nil) != tt.wantErr {
				t.Fatalf("credential(%+v) = %v, want error %v", tt.u, err, tt.wantErr)
			}
			if err == nil && (cred.Uid != 4242 || cred.Gid != 4243 || !slices.Equal(cred.Groups, tt.wantGroups)) {
				t.Errorf("credential(%+v) = %+v, want uid 4242 gid 4243 groups %v", tt.u, cred, tt.wantGroups)
			}
		})
	}
}

func TestConfineUserRefusesRoot(t *testing.T) {
	if _, err := user.Lookup("root"); err != nil {
		t.Skip("no root user here")
	}
	for _, name := range []string{"root", "0"} {
		_, err := confineUser(name)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "uid 0") {
			t.Errorf("confineUser(%q) = %v, want a usage error refusing uid 0", name, err)
		}
	}
	t.Setenv("SUDO_UID", "0")
	if _, err := confineUser(""); err == nil || !strings.Contains(err.Error(), "uid 0") {
		t.Errorf("confineUser(\"\") with SUDO_UID=0 = %v, want uid 0 refused", err)
	}
}
