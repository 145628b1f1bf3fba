package main

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/verify"
)

func TestSlugAndPrefix(t *testing.T) {
	tests := []struct {
		args       []string
		slug       string
		prefix     []string
		wantUsage  bool
		wantNoSlug bool
	}{
		{args: []string{"a"}, slug: "a"},
		{args: []string{"a", "--", "docker", "exec", "c", "/aliaslease"}, slug: "a", prefix: []string{"docker", "exec", "c", "/aliaslease"}},
		{args: []string{"a", "--", "sh", "-c", "x -- y"}, slug: "a", prefix: []string{"sh", "-c", "x -- y"}},
		{args: []string{"a", "--"}, wantUsage: true},
		{args: []string{"--", "true"}, wantUsage: true},
		{args: []string{"a", "b", "--", "true"}, wantUsage: true},
		{args: []string{"a", "b"}, wantUsage: true},
		{args: nil, wantUsage: true},
		{args: []string{"-bad"}, wantNoSlug: true},
	}
	for _, tt := range tests {
		slug, prefix, err := slugAndPrefix(tt.args)
		var ue usageError
		switch {
		case tt.wantUsage && !errors.As(err, &ue):
			t.Errorf("slugAndPrefix(%q) = %v, want a usage error", tt.args, err)
		case tt.wantNoSlug && err == nil:
			t.Errorf("slugAndPrefix(%q) = nil error, want the slug refused", tt.args)
		case !tt.wantUsage && !tt.wantNoSlug && (err != nil || slug != tt.slug || !slices.Equal(prefix, tt.prefix)):
			t.Errorf("slugAndPrefix(%q) = %q, %q, %v; want %q, %q", tt.args, slug, prefix, err, tt.slug, tt.prefix)
		}
	}
}

// runProbe passes the nonce, --via and every target after the PREFIX,
// and a probe whose confinement cannot be entered is not run.
func TestRunProbe(t *testing.T) {
	tg, _ := verify.ParseTarget("tcp:127.0.0.16:4000")
	ps := probeSpec{prefix: []string{"echo"}, timeout: 10 * time.Second}
	r := runProbe(context.Background(), ps, "00112233445566778899aabbccddeeff", []verify.Target{tg}, nil)
	if want := "probe --nonce 00112233445566778899aabbccddeeff tcp:127.0.0.16:4000\n"; r.err != nil || r.exit != 0 || string(r.output) != want {
		t.Errorf("runProbe(echo) = exit %d, %q, %v; want exit 0, %q", r.exit, r.output, r.err, want)
	}
	refused := errors.New("no cgroup")
	called := false
	attach := func(*exec.Cmd) error { called = true; return refused }
	r = runProbe(context.Background(), probeSpec{prefix: []string{"sh", "-c", "echo ran"}, timeout: time.Second}, "00", nil, attach)
	if !called || !errors.Is(r.err, refused) || r.exit != -1 || strings.Contains(string(r.output), "ran") {
		t.Errorf("runProbe with a failing attach = exit %d, %q, %v; want it not run, the error kept", r.exit, r.output, r.err)
	}
}
