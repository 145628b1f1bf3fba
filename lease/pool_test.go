package lease

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParsePool(t *testing.T) {
	tests := []struct {
		spec    string
		want    string // canonical form; "" when an error is wanted
		size    int
		errText string
	}{
		{spec: "127.0.0.16-127.0.0.31", want: "127.0.0.16-127.0.0.31", size: 16},
		{spec: "127.0.0.16/28", want: "127.0.0.16-127.0.0.31", size: 16},
		{spec: "127.0.0.16", want: "127.0.0.16", size: 1},
		{spec: " 127.0.0.20 , 127.0.0.16-127.0.0.18 ", want: "127.0.0.16-127.0.0.18,127.0.0.20", size: 4},
		{spec: "127.0.0.16-127.0.0.20,127.0.0.18-127.0.0.25", want: "127.0.0.16-127.0.0.25", size: 10},
		{spec: "127.0.0.16-127.0.0.17,127.0.0.18", want: "127.0.0.16-127.0.0.18", size: 3},
		{spec: "127.0.0.16,127.0.0.16", want: "127.0.0.16", size: 1},
		{spec: "127.1.0.0/16", want: "127.1.0.0-127.1.255.255", size: 65536},
		{spec: "127.0.0.2-127.0.0.255", want: "127.0.0.2-127.0.0.255", size: 254},
		{spec: "127.0.0.17/28", errText: "network address is 127.0.0.16/28"},
		{spec: "127.0.0.0/8", errText: "contains 127.0.0.0"},
		{spec: "127.0.0.1", errText: "contains 127.0.0.1"},
		{spec: "127.0.0.0-127.0.0.20", errText: "contains 127.0.0.0"},
		{spec: "127.0.0.1/32", errText: "contains 127.0.0.1"},
		{spec: "127.255.255.0/24", errText: "contains 127.255.255.255"},
		{spec: "127.0.0.16,127.0.0.1", errText: "contains 127.0.0.1"},
		{spec: "127.2.0.0/15", errText: "more than the limit"},
		{spec: "127.1.0.0/16,127.2.0.0", errText: "more than the limit"},
		{spec: "10.0.0.16", errText: "outside 127.0.0.0/8"},
		{spec: "127.0.0.16-128.0.0.1", errText: "outside 127.0.0.0/8"},
		{spec: "127.0.0.31-127.0.0.16", errText: "backwards"},
		{spec: "::1", errText: "not an IPv4 address"},
		{spec: "::ffff:127.0.0.16", errText: "not an IPv4 address"},
		{spec: "127.0.0.016", errText: "not an IPv4 address"},
		{spec: "localhost", errText: "not an IPv4 address"},
		{spec: "", errText: "empty pool"},
		{spec: "127.0.0.16,", errText: "empty item"},
		{spec: "127.0.0.16/", errText: "not a CIDR"},
		{spec: "126.0.0.0/7", errText: "outside 127.0.0.0/8"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			p, err := ParsePool(tt.spec)
			if tt.errText != "" {
				if !errors.Is(err, ErrInvalidPool) || !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("ParsePool(%q) = %v, want error containing %q", tt.spec, err, tt.errText)
				}
				return
			}
			if err != nil || p.String() != tt.want || p.Len() != tt.size {
				t.Errorf("ParsePool(%q) = %q (%d), %v, want %q (%d)", tt.spec, p, p.Len(), err, tt.want, tt.size)
			}
		})
	}
}

func TestPoolContainsAndAll(t *testing.T) {
	p := MustParsePool("127.0.0.20,127.0.0.16-127.0.0.17")
	var got []string
	p.All(func(a netip.Addr) bool { got = append(got, a.String()); return true })
	if want := "127.0.0.16 127.0.0.17 127.0.0.20"; strings.Join(got, " ") != want {
		t.Errorf("All = %v, want %s", got, want)
	}
	for a, want := range map[string]bool{"127.0.0.16": true, "127.0.0.18": false, "127.0.0.20": true, "127.0.0.21": false, "::1": false} {
		if got := p.Contains(netip.MustParseAddr(a)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", a, got, want)
		}
	}
}

func FuzzParsePool(f *testing.F) {
	for _, s := range []string{DefaultPool, "127.0.0.16/28", "127.0.0.16", "127.0.0.17/28", "127.0.0.0/8",
		"127.0.0.1", "127.1.0.0/16", "127.0.0.16-127.0.0.20,127.0.0.40", "127.255.255.255", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := ParsePool(spec)
		if err != nil {
			if !errors.Is(err, ErrInvalidPool) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParsePool(%q) error %q: not ErrInvalidPool, or not one line", spec, err)
			}
			return
		}
		if p.Len() < 1 || p.Len() > MaxPoolSize {
			t.Fatalf("ParsePool(%q) has %d addresses", spec, p.Len())
		}
		// Every address is a usable loopback alias, and the canonical form
		// parses back to the same pool.
		n := 0
		p.All(func(a netip.Addr) bool {
			n++
			if !loopback.Contains(a) || a == netip.MustParseAddr("127.0.0.1") || a == netip.MustParseAddr("127.0.0.0") || !p.Contains(a) {
				t.Fatalf("ParsePool(%q) holds %s", spec, a)
			}
			return n < 4096
		})
		q, err := ParsePool(p.String())
		if err != nil || q.String() != p.String() || q.Len() != p.Len() {
			t.Fatalf("round trip of %q: %q, %v", spec, q, err)
		}
	})
}

func TestValidateSlug(t *testing.T) {
	ok := []string{"a", "A", "0", "bottle-7", "my_bottle.v2", "9lives", strings.Repeat("x", 128), "a-", "a.", "a_"}
	bad := []string{"", "-a", ".a", "_a", "a b", "a/b", "a:b", "ä", "a\n", strings.Repeat("x", 129), "--", "a\x00"}
	for _, s := range ok {
		if err := ValidateSlug(s); err != nil {
			t.Errorf("ValidateSlug(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range bad {
		if err := ValidateSlug(s); !errors.Is(err, ErrInvalidSlug) {
			t.Errorf("ValidateSlug(%q) = %v, want ErrInvalidSlug", s, err)
		}
	}
}

func FuzzValidateSlug(f *testing.F) {
	for _, s := range []string{"bottle-7", "a", "-a", "a b", strings.Repeat("x", 128), strings.Repeat("x", 129), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateSlug(s)
		// An independent statement of the rule.
		valid := len(s) >= 1 && len(s) <= 128
		for i, r := range s {
			alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
			if !(alnum || i > 0 && (r == '.' || r == '_' || r == '-')) {
				valid = false
			}
		}
		if valid != (err == nil) {
			t.Fatalf("ValidateSlug(%q) = %v, want valid=%v", s, err, valid)
		}
		if err != nil && (!errors.Is(err, ErrInvalidSlug) || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("ValidateSlug(%q) error %q: not ErrInvalidSlug, or not one line", s, err)
		}
	})
}
