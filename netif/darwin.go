//go:build darwin

package netif

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/aliaslease/aliaslease/lease"
)

// System is the host's loopback interface: lo0, managed with ifconfig.
type System struct {
	Stdin  *os.File  // whether it is a terminal decides if sudo may prompt
	Stderr io.Writer // receives the notice before sudo prompts
}

func (s System) lo0() Lo0 {
	interactive := false
	if s.Stdin != nil {
		_, err := unix.IoctlGetTermios(int(s.Stdin.Fd()), unix.TIOCGETA)
		interactive = err == nil
	}
	l := Lo0{Run: s.run, Interactive: interactive}
	if s.Stderr != nil {
		l.Notify = func(msg string) { fmt.Fprintf(s.Stderr, "aliaslease: note: %s\n", msg) }
	}
	return l
}

func (s System) run(ctx context.Context, argv []string, interactive bool) ([]byte, error) {
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

// Up makes sure alias is on lo0, adding every missing pool alias with it.
func (s System) Up(ctx context.Context, alias netip.Addr, pool lease.Pool) error {
	return s.lo0().Up(ctx, alias, pool)
}

// UpAll adds every missing pool alias to lo0 and returns those added.
func (s System) UpAll(ctx context.Context, pool lease.Pool) ([]netip.Addr, error) {
	return s.lo0().UpAll(ctx, pool)
}

// Status reports which pool aliases are on lo0.
func (s System) Status(ctx context.Context, pool lease.Pool) ([]AliasStatus, error) {
	return s.lo0().Status(ctx, pool)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
