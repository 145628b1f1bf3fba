package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aliaslease/aliaslease/lease"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"bottle-1", "bottle-1"},
		{"café", "café"},
		{"a\tb", `a\tb`},
		{"a\x1b[31mb", `a\x1b[31mb`},
		{"a\nb\r", `a\nb\r`},
		{"a\x7fb", `a\x7fb`},
		{"a\u0085b", `a\u0085b`},
		{"a\u2028b", `a\u2028b`},
		{"a\xffb", `a\xffb`},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzEscape checks what list and every message rely on: the result is
// valid UTF-8 without a control character or line separator, and a
// string that needs no escaping comes back as it is.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"bottle-1", "café", "a\tb", "\x1b[2J", "\xff\xfe", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := escape(s)
		clean := utf8.ValidString(s)
		for _, r := range s {
			clean = clean && !unicode.IsControl(r) && r != '\u2028' && r != '\u2029'
		}
		if clean && got != s {
			t.Errorf("escape(%q) = %q, want it unchanged", s, got)
		}
		if !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) {
			t.Errorf("escape(%q) = %q, which is not safe for a terminal", s, got)
		}
	})
}

func TestHumanAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{59*time.Second + 999*time.Millisecond, "59s"},
		{time.Minute, "1m"},
		{time.Hour - 1, "59m"},
		{47*time.Hour + 59*time.Minute, "47h"},
		{48 * time.Hour, "2d"},
		{400 * 24 * time.Hour, "400d"},
	}
	for _, tt := range tests {
		if got := string(appendAge(nil, tt.d)); got != tt.want {
			t.Errorf("appendAge(nil, %v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// FuzzListFormat checks list --format's parser: it never panics, and a
// template it accepts never fails on a row for naming a field a row does
// not have (those are refused before the database is read). Left out of
// the second part: templates with {{define}}d parts (the dot they get is
// anyone's), variables (one may hold the row: $r.Nope fails on the rows)
// and {{range}} (an integer range can run for ever).
func FuzzListFormat(f *testing.F) {
	for _, s := range []string{"{{.Slug}}", "table {{.Slug}}\\t{{.Alias}}", "{{.Nope}}", "{{if eq .State \"live\"}}{{.Nope}}{{end}}",
		"{{with .AcquiredAt}}{{.Unix}}{{end}}", "{{with .Slug}}{{$.Nope}}{{end}}", "{{(.Slug).Nope}}", "{{json .}}", "json", "table", ""} {
		f.Add(s)
	}
	now := time.Now()
	a := netip.MustParseAddr("127.0.0.16")
	exampleRow := row(lease.Decision{Lease: lease.Lease{Slug: "example", Alias: a, Generation: 1, AcquiredAt: now, RenewedAt: now},
		Alias: a, State: lease.Pending, Reason: lease.ReasonWithinGrace}, now)
	example := exampleRow.fields()
	f.Fuzz(func(t *testing.T, format string) {
		tmpl, _, err := listFormat(format)
		if err != nil || tmpl == nil || len(tmpl.Templates()) > 1 || strings.Contains(format, "range") || strings.Contains(format, "=") {
			return
		}
		var out strings.Builder
		if err := tmpl.Execute(&out, example); err != nil && strings.Contains(err.Error(), "in type main.listRow") {
			t.Errorf("listFormat(%q) accepted a template that fails on a row: %v", format, err)
		}
	})
}
