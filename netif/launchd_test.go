package netif

import (
	"encoding/xml"
	"errors"
	"io"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aliaslease/aliaslease/lease"
)

// plistElem is one child of the plist's top-level dict: a key or a value.
type plistElem struct {
	XMLName xml.Name
	Text    string   `xml:",chardata"`
	Strings []string `xml:"string"` // an array's items
}

// decodePlist checks that doc is one well-formed XML document whose root
// is <plist>, and returns its top-level dict as key → value element.
func decodePlist(t *testing.T, doc string) map[string]plistElem {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc)) // Strict: tags must match
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name.Local != "plist" {
					t.Errorf("root element <%s>, want <plist>", tok.Name.Local)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 || depth != 0 {
		t.Fatalf("plist has %d root elements (depth %d at the end), want one closed root", roots, depth)
	}

	var p struct {
		XMLName xml.Name `xml:"plist"`
		Version string   `xml:"version,attr"`
		Dict    struct {
			Elems []plistElem `xml:",any"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("xml.Unmarshal(plist) = %v", err)
	}
	if p.Version != "1.0" {
		t.Errorf("plist version = %q, want 1.0", p.Version)
	}
	es := p.Dict.Elems
	if len(es)%2 != 0 {
		t.Fatalf("dict has %d elements, want key/value pairs", len(es))
	}
	dict := map[string]plistElem{}
	for i := 0; i < len(es); i += 2 {
		if es[i].XMLName.Local != "key" {
			t.Fatalf("dict element %d is <%s>, want <key>", i, es[i].XMLName.Local)
		}
		dict[es[i].Text] = es[i+1]
	}
	return dict
}

func TestLaunchdPlist(t *testing.T) {
	for _, spec := range []string{
		"127.0.0.16-127.0.0.31", // the default pool
		"127.0.0.16",
		"127.0.0.16-127.0.0.19,127.0.1.0/30,127.0.2.7",
		"127.1.255.250-127.2.0.5", // across octets
	} {
		t.Run(spec, func(t *testing.T) {
			pool := lease.MustParsePool(spec)
			dict := decodePlist(t, LaunchdPlist(pool))

			if l := dict["Label"]; l.XMLName.Local != "string" || l.Text != "dev.aliaslease.pool" {
				t.Errorf("Label = <%s>%s, want <string>dev.aliaslease.pool", l.XMLName.Local, l.Text)
			}
			if r := dict["RunAtLoad"]; r.XMLName.Local != "true" {
				t.Errorf("RunAtLoad = <%s>, want <true/>", r.XMLName.Local)
			}
			args := dict["ProgramArguments"]
			if args.XMLName.Local != "array" || len(args.Strings) != 3 || args.Strings[0] != "/bin/sh" || args.Strings[1] != "-c" {
				t.Fatalf("ProgramArguments = <%s>%q, want an array /bin/sh -c SCRIPT", args.XMLName.Local, args.Strings)
			}
			script := args.Strings[2]

			// ifconfig is named by its absolute path, every time: launchd
			// runs the script as root with whatever PATH it has.
			if n, abs := strings.Count(script, "ifconfig"), strings.Count(script, "/sbin/ifconfig"); n != abs || n == 0 {
				t.Errorf("script names ifconfig %d times, %d of them as /sbin/ifconfig: %q", n, abs, script)
			}

			// Run the script, with echo standing in for ifconfig, and
			// read back what it would have run.
			out, err := exec.Command("/bin/sh", "-c", strings.ReplaceAll(script, "/sbin/ifconfig", "echo /sbin/ifconfig")).Output()
			if err != nil {
				t.Fatalf("sh -c SCRIPT = %v", err)
			}
			var added []netip.Addr
			for cmd := range strings.Lines(string(out)) {
				f := strings.Fields(cmd)
				if len(f) != 5 || f[0] != "/sbin/ifconfig" || f[1] != "lo0" || f[2] != "alias" || f[4] != "up" {
					t.Errorf("command %q, want /sbin/ifconfig lo0 alias IP/32 up", cmd)
					continue
				}
				p, err := netip.ParsePrefix(f[3])
				if err != nil || p.Bits() != 32 {
					t.Errorf("command %q: alias %q is not IP/32", cmd, f[3])
					continue
				}
				added = append(added, p.Addr())
			}
			if ranges := strings.Count(script, "while"); len(script) > 200*ranges {
				t.Errorf("script is %d bytes for %d ranges; want a loop per range, not a command per alias", len(script), ranges)
			}
			var want []netip.Addr
			pool.All(func(a netip.Addr) bool {
				want = append(want, a)
				return true
			})
			if !slices.Equal(added, want) {
				t.Errorf("script adds %v, want every pool alias once, in order: %v", added, want)
			}
		})
	}
}

// TestLaunchdPlistLargePool checks that a /16 pool gives a small plist.
func TestLaunchdPlistLargePool(t *testing.T) {
	if n := len(LaunchdPlist(lease.MustParsePool("127.1.0.0/16"))); n > 2048 {
		t.Errorf("LaunchdPlist(/16) is %d bytes, want a loop, not 65,536 commands", n)
	}
}
