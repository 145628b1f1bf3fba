//go:build darwin

package netif

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
	"golang.org/x/term"
)

// On macOS, System is lo0 (lo0.go) running the real commands.

func sysUp(ctx context.Context, s System, alias netip.Addr, pool lease.Pool) error {
	return lo0For(s).Up(ctx, alias, pool)
}

func sysUpAll(ctx context.Context, s System, pool lease.Pool) ([]netip.Addr, error) {
	return lo0For(s).UpAll(ctx, pool)
}

func sysStatus(ctx context.Context, s System, pool lease.Pool) ([]AliasStatus, error) {
	return lo0For(s).Status(ctx, pool)
}

// lo0For returns the lo0 that runs real commands for s: sudo may prompt
// when s.Stdin is a terminal, and s.Stderr hears what is about to be
// added.
func lo0For(s System) lo0 {
	l := lo0{run: execRunner(s), interactive: s.Stdin != nil && term.IsTerminal(int(s.Stdin.Fd()))}
	if s.Stderr != nil {
		l.notify = func(msg string) { fmt.Fprintf(s.Stderr, "aliaslease: note: %s\n", msg) }
	}
	return l
}

// execRunner returns the runner that executes argv for s. An interactive
// command reads s.Stdin, and its standard error goes to s.Stderr as well;
// a failing command's error carries the first line of its standard error.
func execRunner(s System) runner {
	return func(ctx context.Context, argv []string, interactive bool) ([]byte, error) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if interactive {
			cmd.Stdin = s.Stdin
			if s.Stderr != nil {
				cmd.Stderr = io.MultiWriter(&stderr, s.Stderr)
			}
		}
		if err := cmd.Run(); err != nil {
			if msg := strings.TrimSpace(stderr.String()); msg != "" {
				return nil, fmt.Errorf("%w: %s", err, firstLine(msg))
			}
			return nil, err
		}
		return stdout.Bytes(), nil
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
