package listeners

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

func TestReleaseAtLeast(t *testing.T) {
	tests := []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v1045", true}, {"6.18", true}, {"6.19-rc1", true}, {"7.0.0", true},
		{"6.17.9", false}, {"5.19.0", false}, {"6", false}, {"x.y", false}, {"6.1x", false},
	}
	for _, tt := range tests {
		if got := releaseAtLeast(tt.release, 6, 18); got != tt.want {
			t.Errorf("releaseAtLeast(%q, 6, 18) = %v, want %v", tt.release, got, tt.want)
		}
	}
}

func TestNetnsVerdict(t *testing.T) {
	const host, other = 0xF0000010, 0xF0000020 // dynamic numbers, as before 6.18
	ino := func(n uint64, err error) func() (uint64, error) { return func() (uint64, error) { return n, err } }
	tests := []struct {
		name              string
		self              uint64
		fixed, initPID    bool
		initNet           func() (uint64, error)
		same, known, fail bool
	}{
		{"6.18: the initial namespace", netNSInitIno, true, false, ino(0, fs.ErrPermission), true, true, false},
		{"6.18: another", other, true, true, ino(other, nil), false, true, false},
		{"older: same as init's", host, false, true, ino(host, nil), true, true, false},
		{"older: not init's", other, false, true, ino(host, nil), false, true, false},
		{"older: not root", host, false, true, ino(0, &fs.PathError{Op: "stat", Err: syscall.EACCES}), false, false, false},
		{"older: in a container's PID namespace", host, false, false, ino(host, nil), false, false, false},
		{"older: init unreadable otherwise", host, false, true, ino(0, errors.New("EIO")), false, false, true},
	}
	for _, tt := range tests {
		same, known, err := netnsVerdict(tt.self, tt.fixed, tt.initPID, tt.initNet)
		if same != tt.same || known != tt.known || (err != nil) != tt.fail {
			t.Errorf("%s: netnsVerdict = %v, %v, %v, want %v, %v, error %v", tt.name, same, known, err, tt.same, tt.known, tt.fail)
		}
	}
}
