package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestCompletionCurrent checks that the completion scripts in docs/ are
// what the CLI definition generates now. Regenerate them with
// "go generate ./cmd/aliaslease".
func TestCompletionCurrent(t *testing.T) {
	for name, want := range docFiles() {
		got, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil || string(got) != want {
			t.Errorf("docs/%s is not current (%v); run go generate ./cmd/aliaslease", name, err)
		}
	}
}

// TestCompletionScriptsParse has each shell that is installed check the
// syntax of its script.
func TestCompletionScriptsParse(t *testing.T) {
	for shell, args := range map[string][]string{"bash": {"-n"}, "zsh": {"-n"}, "fish": {"--no-execute"}} {
		path, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("%s not installed; its script is not parsed", shell)
			continue
		}
		f := filepath.Join(t.TempDir(), "script")
		os.WriteFile(f, []byte(completionScripts[shell]), 0o644)
		if out, err := exec.Command(path, append(args, f)...).CombinedOutput(); err != nil {
			t.Errorf("%s %v: %v\n%s", shell, args, err, out)
		}
	}
}

const manPage = "../../docs/aliaslease.1"

// renderMan renders the hand-written man page with groff as man(1) would,
// as plain text (-P-cbou: no bold, underline or overstrike), failing on
// any groff warning (-ww).
func renderMan(t *testing.T) string {
	t.Helper()
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("groff not installed (CI installs it); the man page is not checked")
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-P-cbou", manPage)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("groff -man -Tutf8 -ww %s: %v\n%s", manPage, err, stderr.String())
	}
	return out.String()
}

// manSections splits a rendered man page into its sections (headings at
// column 0) and the COMMANDS section into its subsections (headings
// indented three spaces), by heading.
func manSections(text string) (sections, subsections map[string]string) {
	sections, subsections = map[string]string{}, map[string]string{}
	var sec, sub string
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line != "" && line[0] != ' ':
			sec, sub = line, ""
		case sec == "COMMANDS" && strings.HasPrefix(line, "   ") && !strings.HasPrefix(line, "    "):
			sub = strings.TrimSpace(line)
		}
		sections[sec] += line + "\n"
		if sub != "" {
			subsections[sub] += line + "\n"
		}
	}
	return sections, subsections
}

// typedNames are a flag's names as typed: --long, -n.
func typedNames(f cli.Flag) []string {
	var names []string
	for _, n := range f.Names() {
		if len(n) == 1 {
			names = append(names, "-"+n)
		} else {
			names = append(names, "--"+n)
		}
	}
	return names
}

// documents reports whether a section has an item (a .TP tag, indented
// seven spaces) that names one of names first.
func documents(section string, names ...string) bool {
	for _, n := range names {
		if regexp.MustCompile(`(?m)^ {7}` + regexp.QuoteMeta(n) + `(,| |$)`).MatchString(section) {
			return true
		}
	}
	return false
}

// TestManPage renders docs/aliaslease.1 and checks it against the CLI:
// the sections a man page has; every visible command, with its aliases,
// in a subsection of COMMANDS that documents each of its flags; every
// global flag, exit code and environment variable the CLI names.
func TestManPage(t *testing.T) {
	text := renderMan(t)
	app := newApp(nil, nil)
	app.Setup() // adds --help and --version
	sections, subs := manSections(text)
	for _, s := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"} {
		if sections[s] == "" {
			t.Errorf("man page: no %s section", s)
		}
	}
	if want := "aliaslease - " + app.Usage; !strings.Contains(sections["NAME"], want) {
		t.Errorf("man page NAME = %q, want %q", sections["NAME"], want)
	}
	if footer := strings.TrimSpace(text[strings.LastIndex(strings.TrimSpace(text), "\n"):]); !strings.HasPrefix(footer, "aliaslease "+versionNumber+" ") {
		t.Errorf("man page footer = %q, want it to name aliaslease %s", footer, versionNumber)
	}
	for _, f := range app.Flags {
		if !documents(sections["GLOBAL OPTIONS"], typedNames(f)...) {
			t.Errorf("man page GLOBAL OPTIONS: no item for %v", typedNames(f))
		}
	}
	checkManCommands(t, sections, subs, app.Commands, "")
	for _, e := range exitCodes {
		if !documents(sections["EXIT STATUS"], strconv.Itoa(e.code)) {
			t.Errorf("man page EXIT STATUS: no item for exit code %d", e.code)
		}
	}
	for _, v := range cliEnvironment(app) {
		if !strings.Contains(sections["ENVIRONMENT"], v) {
			t.Errorf("man page ENVIRONMENT lacks %s, which the CLI's help names", v)
		}
	}
	for _, hidden := range []string{"__complete", "__gen-docs"} {
		if strings.Contains(text, hidden) {
			t.Errorf("man page shows the hidden command %s", hidden)
		}
	}
}

// checkManCommands checks that each visible command under parent has a
// subsection naming it and its aliases, documenting each of its flags,
// and (for a top-level command) a SYNOPSIS line.
func checkManCommands(t *testing.T, sections, subs map[string]string, cmds []*cli.Command, parent string) {
	t.Helper()
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		name := strings.TrimSpace(parent + " " + c.Name)
		if parent == "" && !strings.Contains(sections["SYNOPSIS"], "aliaslease "+c.Name) {
			t.Errorf("man page SYNOPSIS: no line for %s", name)
		}
		if len(c.Subcommands) > 0 {
			checkManCommands(t, sections, subs, c.Subcommands, name)
			continue
		}
		heading := strings.Join(append([]string{name}, c.Aliases...), ", ")
		body, ok := subs[heading]
		if !ok {
			t.Errorf("man page COMMANDS: no subsection %q", heading)
			continue
		}
		for _, f := range c.Flags {
			if names := typedNames(f); !slices.Contains(names, "--help") && !documents(body, names...) {
				t.Errorf("man page COMMANDS %s: no item for %v", name, names)
			}
		}
	}
}

// cliEnvironment is every environment variable the CLI's help text names.
func cliEnvironment(app *cli.App) []string {
	var b strings.Builder
	var walk func([]cli.Flag, []*cli.Command)
	walk = func(flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			b.WriteString(f.String() + "\n")
		}
		for _, c := range cmds {
			b.WriteString(c.UsageText + "\n" + c.Usage + "\n")
			walk(c.Flags, c.Subcommands)
		}
	}
	walk(app.Flags, app.Commands)
	vars := regexp.MustCompile(`\b(?:ALIASLEASE|DOCKER|XDG)_[A-Z_]+\b`).FindAllString(b.String(), -1)
	slices.Sort(vars)
	return slices.Compact(vars)
}
