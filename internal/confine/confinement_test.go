package confine

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestNameservers(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.5/32")}
	tests := []struct {
		conf string
		want []string // local ones, as ADDR:53
	}{
		{"nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", []string{"127.0.0.53:53"}},
		{"# nameserver 127.0.0.1\nnameserver 8.8.8.8\n", nil},
		{"nameserver ::1\nnameserver 10.0.0.5\nnameserver 10.0.0.6\n", []string{"[::1]:53", "10.0.0.5:53"}},
		{"nameserver ::ffff:127.0.0.1\n", []string{"127.0.0.1:53"}},
		{"nameserver fe80::1%eth0\nnameserver\nnameserver dns.example\n\tnameserver   127.0.0.2  \n", []string{"127.0.0.2:53"}},
		{"", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, ap := range LocalNameservers([]byte(tt.conf), local) {
			got = append(got, ap.String())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("LocalNameservers(%q) = %v, want %v", tt.conf, got, tt.want)
		}
	}
}

func TestParseAllow(t *testing.T) {
	tests := []struct {
		in, want string // want "" for an error
	}{
		{"127.0.0.1:5432", "127.0.0.1:5432"},
		{"[::1]:80", "[::1]:80"},
		{"[::ffff:127.0.0.9]:80", "127.0.0.9:80"},
		{"127.0.0.1:0", ""},
		{"127.0.0.1", ""},
		{"localhost:80", ""},
		{"[fe80::1%eth0]:80", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := ParseAllow(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseAllow(%q) = %v, want an error", tt.in, got)
		case tt.want != "" && (err != nil || got.String() != tt.want):
			t.Errorf("ParseAllow(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func FuzzNameservers(f *testing.F) {
	f.Add([]byte("nameserver 127.0.0.53\nnameserver ::1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, a := range Nameservers(b) {
			if !a.IsValid() || a.Is4In6() || a.Zone() != "" {
				t.Errorf("Nameservers(%q) gave %v", b, a)
			}
		}
	})
}

func FuzzParseAllow(f *testing.F) {
	f.Add("127.0.0.1:53")
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ParseAllow(s)
		if err != nil {
			return
		}
		if again, err := ParseAllow(ap.String()); err != nil || again != ap {
			t.Errorf("ParseAllow(%q) = %v; its text reads %v, %v", s, ap, again, err)
		}
	})
}
