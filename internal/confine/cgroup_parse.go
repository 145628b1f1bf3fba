package confine

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// mount is the cgroup2 file system as /proc/self/mountinfo names it.
type mount struct {
	point string // where it is mounted, unescaped
	root  string // the cgroup at that point ("/" unless a subtree is bind-mounted or in a cgroup namespace)
	ro    bool   // mounted read-only
}

// parseMountinfo finds the first cgroup2 mount in mountinfo (proc(5)):
// fields 4 and 5 are root and mount point, optional fields end at "-",
// then the file system type. Paths escape space, tab, newline and
// backslash as octal (\040).
func parseMountinfo(r io.Reader) (mount, bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(f) || f[sep+1] != "cgroup2" {
			continue
		}
		m := mount{root: unescapeOctal(f[3]), point: unescapeOctal(f[4])}
		for _, o := range strings.Split(f[5], ",") {
			m.ro = m.ro || o == "ro"
		}
		if !strings.HasPrefix(m.point, "/") || !strings.HasPrefix(m.root, "/") {
			return mount{}, false, fmt.Errorf("mountinfo: cgroup2 line %q has no absolute paths", sc.Text())
		}
		return m, true, nil
	}
	return mount{}, false, sc.Err()
}

// unescapeOctal undoes mountinfo's \NNN escapes; anything else is kept.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseOwnCgroup returns the cgroup2 path ("0::/a/b") of /proc/self/cgroup.
func parseOwnCgroup(data []byte) (string, bool) {
	for line := range bytes.Lines(data) {
		if p, ok := bytes.CutPrefix(bytes.TrimRight(line, "\n"), []byte("0::")); ok && bytes.HasPrefix(p, []byte("/")) {
			return string(p), true
		}
	}
	return "", false
}

// errEvents is a cgroup.events without a well-formed populated line.
var errEvents = errors.New("cgroup.events has no populated line")

// parsePopulated reads the "populated 0|1" line of a cgroup.events file.
func parsePopulated(data []byte) (bool, error) {
	for line := range bytes.Lines(data) {
		k, v, ok := bytes.Cut(bytes.TrimRight(line, "\n"), []byte(" "))
		if !ok || string(k) != "populated" {
			continue
		}
		switch string(v) {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return false, fmt.Errorf("%w: %q", errEvents, line)
	}
	return false, errEvents
}

// validName says whether name can be one cgroup directory of our subtree:
// one path component, not "." or "..", no control characters, not a
// name of the kernel's interface files (cgroup.*), at most 255 bytes.
func validName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrName, name)
	case len(name) > 255:
		return fmt.Errorf("%w: %d bytes, more than 255", ErrName, len(name))
	case strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, "cgroup."):
		return fmt.Errorf("%w: %q", ErrName, name)
	}
	for _, c := range []byte(name) {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: %q has a control character", ErrName, name)
		}
	}
	return nil
}

// RunName is the cgroup name of one run of slug under lease generation
// gen: "SLUG.GEN.RUNID", RUNID 16 random hex digits, so two runs of one
// slug never share a group and gc can tell, by name alone, whose lease a
// leftover group held. A slug never holds '/' (see lease.ValidateSlug).
func RunName(slug string, gen uint64) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	name := slug + "." + strconv.FormatUint(gen, 10) + "." + hex.EncodeToString(b[:])
	if err := validName(name); err != nil {
		return "", err
	}
	return name, nil
}

// ParseRunName splits a RunName into its slug, generation and run id.
// The slug may itself hold dots: the last two fields are taken from the
// right.
func ParseRunName(name string) (slug string, gen uint64, runID string, ok bool) {
	rest, id, ok1 := cutLast(name, '.')
	slug, g, ok2 := cutLast(rest, '.')
	if !ok1 || !ok2 || slug == "" || len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", 0, "", false
	}
	if len(g) == 0 || g[0] == '+' || (len(g) > 1 && g[0] == '0') {
		return "", 0, "", false
	}
	n, err := strconv.ParseUint(g, 10, 64)
	if err != nil || validName(name) != nil {
		return "", 0, "", false
	}
	return slug, n, id, true
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
