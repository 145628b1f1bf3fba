package confine

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

const hostMountinfo = `24 31 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
35 24 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 35 0:39 / /sys/fs/cgroup/memory rw,relatime shared:13 - cgroup cgroup rw,memory
`

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want mount
		ok   bool
	}{
		{"hybrid", hostMountinfo, mount{point: "/sys/fs/cgroup/unified", root: "/"}, true},
		{"unified", "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
			mount{point: "/sys/fs/cgroup", root: "/"}, true},
		{"escaped, bind of a subtree", `50 23 0:26 /user.slice /mnt/c\040g ro - cgroup2 none rw` + "\n",
			mount{point: "/mnt/c g", root: "/user.slice", ro: true}, true},
		{"v1 only", "42 35 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", mount{}, false},
		{"optional field named cgroup2", "42 35 0:39 / /x rw cgroup2 - tmpfs t rw\n", mount{}, false},
		{"empty", "", mount{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseMountinfo(strings.NewReader(tt.in))
			if err != nil || ok != tt.ok || got != tt.want {
				t.Errorf("parseMountinfo(%q) = %+v, %v, %v; want %+v, %v, nil", tt.in, got, ok, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParsePopulated(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"populated 1\nfrozen 0\n", true, false},
		{"populated 0\nfrozen 0\n", false, false},
		{"frozen 0\npopulated 1", true, false},
		{"populated 2\n", false, true},
		{"frozen 0\n", false, true},
		{"", false, true},
	}
	for _, tt := range tests {
		got, err := parsePopulated([]byte(tt.in))
		if got != tt.want || (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, errEvents)) {
			t.Errorf("parsePopulated(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseOwnCgroup(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"9:name=systemd:/\n4:memory:/x\n0::/\n", "/", true},
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/a.scope\n", "/user.slice/user-1000.slice/user@1000.service/app.slice/a.scope", true},
		{"4:memory:/x\n", "", false},
		{"0::relative\n", "", false},
	}
	for _, tt := range tests {
		got, ok := parseOwnCgroup([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseOwnCgroup(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"web.3.0123456789abcdef", true},
		{"a", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"../x", false},
		{`a\b`, false},
		{"cgroup.procs", false},
		{"a\nb", false},
		{"a\x00b", false},
		{strings.Repeat("x", 256), false},
		{strings.Repeat("x", 255), true},
	}
	for _, tt := range tests {
		err := validName(tt.name)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrName)) {
			t.Errorf("validName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestRunName(t *testing.T) {
	for _, slug := range []string{"web", "a.b-c_d", strings.Repeat("s", 128)} {
		a, err := RunName(slug, 42)
		if err != nil {
			t.Fatalf("RunName(%q, 42) = %v", slug, err)
		}
		b, _ := RunName(slug, 42)
		if a == b {
			t.Errorf("RunName(%q, 42) twice = %q both times, want distinct run ids", slug, a)
		}
		s, gen, id, ok := ParseRunName(a)
		if !ok || s != slug || gen != 42 || a != slug+".42."+id {
			t.Errorf("ParseRunName(%q) = %q, %d, %q, %v; want %q, 42", a, s, gen, id, ok, slug)
		}
	}
}

func TestParseRunName(t *testing.T) {
	tests := []struct {
		in   string
		slug string
		gen  uint64
		ok   bool
	}{
		{"web.7.0123456789abcdef", "web", 7, true},
		{"a.b.c.18446744073709551615.ffffffffffffffff", "a.b.c", 1<<64 - 1, true},
		{"web.07.0123456789abcdef", "", 0, false},
		{"web.+7.0123456789abcdef", "", 0, false},
		{"web.7.0123456789ABCDEF", "", 0, false},
		{"web.7.0123", "", 0, false},
		{".7.0123456789abcdef", "", 0, false},
		{"web.18446744073709551616.0123456789abcdef", "", 0, false},
		{"web", "", 0, false},
	}
	for _, tt := range tests {
		slug, gen, _, ok := ParseRunName(tt.in)
		if slug != tt.slug || gen != tt.gen || ok != tt.ok {
			t.Errorf("ParseRunName(%q) = %q, %d, %v; want %q, %d, %v", tt.in, slug, gen, ok, tt.slug, tt.gen, tt.ok)
		}
	}
}

func TestParseStat(t *testing.T) {
	tail := " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 123456 0 0\n" // fields 7-21, then starttime (22)
	tests := []struct {
		in   string
		want procStat
		ok   bool
	}{
		{"42 (sleep) S 1 40 40" + tail, procStat{pid: 42, ppid: 1, pgrp: 40, state: 'S', start: 123456}, true},
		{"7 (a) (b) Z 3 7 7" + tail, procStat{pid: 7, ppid: 3, pgrp: 7, state: 'Z', start: 123456}, true},
		{"7 (x) S 3 7", procStat{}, false},
		{"x (x) S 3 7 7" + tail, procStat{}, false},
		{"7 x S 3 7 7" + tail, procStat{}, false},
	}
	for _, tt := range tests {
		got, ok := parseStat([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add(hostMountinfo)
	f.Add(`1 2 0:1 /a\040b /c\134d rw - cgroup2 x rw`)
	f.Fuzz(func(t *testing.T, in string) {
		m, ok, err := parseMountinfo(strings.NewReader(in))
		if ok && (err != nil || !strings.HasPrefix(m.point, "/") || !strings.HasPrefix(m.root, "/")) {
			t.Errorf("parseMountinfo(%q) = %+v, %v, %v: a found mount has absolute paths", in, m, ok, err)
		}
	})
}

func FuzzParseRunName(f *testing.F) {
	f.Add("web.7.0123456789abcdef")
	f.Add("a..0.0000000000000000")
	f.Fuzz(func(t *testing.T, in string) {
		slug, gen, id, ok := ParseRunName(in)
		if ok && slug+"."+strconv.FormatUint(gen, 10)+"."+id != in {
			t.Errorf("ParseRunName(%q) = %q, %d, %q: does not rebuild the name", in, slug, gen, id)
		}
		if ok && validName(in) != nil {
			t.Errorf("ParseRunName(%q) accepted an invalid cgroup name", in)
		}
	})
}

func FuzzParsePopulated(f *testing.F) {
	f.Add("populated 1\nfrozen 0\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parsePopulated([]byte(in))
		if got && err != nil {
			t.Errorf("parsePopulated(%q) = true, %v", in, err)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add("42 (sl) eep) S 1 40 40 0 0 0 0 0 0 0 0 0 0 0 0 0 0 123456 0 0\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, ok := parseStat([]byte(in))
		if ok && (s.pid <= 0 || s.ppid < 0 || s.pgrp < 0) {
			t.Errorf("parseStat(%q) = %+v: negative ids accepted", in, s)
		}
	})
}

func FuzzParseOwnCgroup(f *testing.F) {
	f.Add("0::/a/b\n1:cpu:/\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, ok := parseOwnCgroup([]byte(in))
		if ok && (!strings.HasPrefix(p, "/") || strings.Contains(p, "\n")) {
			t.Errorf("parseOwnCgroup(%q) = %q: not one absolute path", in, p)
		}
	})
}
