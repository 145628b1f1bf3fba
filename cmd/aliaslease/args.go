package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// oneSlug returns the command's single SLUG argument.
func oneSlug(c *cli.Context) (string, error) {
	switch c.NArg() {
	case 0:
		return "", usagef("%s: missing SLUG; see aliaslease %s --help", c.Command.Name, c.Command.Name)
	case 1:
		return c.Args().First(), nil
	}
	return "", usagef("%s: one SLUG expected, got %d arguments", c.Command.Name, c.NArg())
}

func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.FullName(), c.Args().First())
	}
	return nil
}

// normalizeArgs moves a command's flags before its arguments, because
// urfave/cli stops parsing flags at the first argument ("acquire g --json"
// would take --json as a second SLUG). Global flags stay where they are,
// before the command; "--" still ends flags.
func normalizeArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if takesValue(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmds := app.Commands
	for i < len(args) {
		cmd := findCommand(cmds, args[i])
		if cmd == nil {
			return args
		}
		i++
		if cmd.SkipFlagParsing {
			return args
		}
		if len(cmd.Subcommands) == 0 {
			return append(append([]string{}, args[:i]...), reorder(cmd.Flags, args[i:], cmd.Name == "run" || cmd.Name == "verify")...)
		}
		cmds = cmd.Subcommands
	}
	return args
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// reorder puts a command's flags before its arguments. With keepDash the
// user's "--" stays among the arguments, so that a command like run can
// tell "SLUG -- COMMAND" from "-- COMMAND" (a missing SLUG).
func reorder(flags []cli.Flag, rest []string, keepDash bool) []string {
	var fl, pos []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			if keepDash {
				pos = append(pos, a)
			}
			pos = append(pos, rest[i+1:]...)
			i = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			fl = append(fl, a)
			if takesValue(flags, a) && i+1 < len(rest) {
				fl = append(fl, rest[i+1])
				i++
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 || asksHelp(fl) {
		// With --help, urfave/cli would read the first argument as a help
		// topic ("acquire my-bottle --help": no help topic 'my-bottle').
		return fl
	}
	return append(append(fl, "--"), pos...)
}

// asksHelp reports whether a command's flags ask for its help.
func asksHelp(flags []string) bool {
	for _, f := range flags {
		if f == "--help" || f == "-h" {
			return true
		}
	}
	return false
}

// takesValue reports whether arg is a flag that takes a separate value.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}

// flagError is the usage error for a flag-parsing failure of cmd (nil
// for the global flags), with a hint that fits: a global flag given after
// the command, a flag of run's CMD given without "--", a value a flag
// cannot parse.
func flagError(app *cli.App, cmd *cli.Command, msg string) error {
	ue := usageError{msg: msg}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		global := findFlag(app.Flags, name)
		switch {
		case cmd != nil && global != nil && global == cli.VersionFlag && cmd.Name != "run":
			ue.hint = versionHint(cmd, name)
		case cmd != nil && global != nil && global != cli.VersionFlag:
			value := ""
			if takesValue(app.Flags, "--"+name) {
				value = " VALUE"
			}
			ue.hint = dashed(name) + " is a global flag: global flags come before the command (aliaslease " + dashed(name) + value + " " + cmd.Name + " ...)"
		case cmd != nil && cmd.Name == "run":
			ue.hint = "if -" + strings.TrimPrefix(msg, "flag provided but not defined: -") + " is CMD's, end aliaslease's flags with --: aliaslease run [FLAGS] SLUG -- CMD ARGS..."
			if near := nearestFlag(cmd.Flags, name); near != "" { // a typo of run's own, as likely
				ue.hint = "did you mean --" + near + "? " + ue.hint
			}
		case cmd != nil && nearestFlag(cmd.Flags, name) != "":
			ue.hint = "did you mean --" + nearestFlag(cmd.Flags, name) + "? see aliaslease " + cmd.Name + " --help"
		}
		return ue
	}
	// "invalid value "bogus" for flag --wait: parse error": say which
	// syntax the flag takes.
	if _, rest, ok := strings.Cut(msg, " for flag -"); ok && strings.HasPrefix(msg, "invalid value ") {
		name, _, _ := strings.Cut(strings.TrimLeft(rest, "-"), ":")
		flags := app.Flags
		if cmd != nil {
			flags = append(append([]cli.Flag{}, cmd.Flags...), app.Flags...)
		}
		switch findFlag(flags, name).(type) {
		case *cli.DurationFlag:
			value, _, _ := strings.Cut(strings.TrimPrefix(msg, "invalid value "), " for flag")
			ue.msg = "invalid value " + value + " for flag " + dashed(name) + ": not a duration"
			ue.hint = dashed(name) + " takes a duration: a number with a unit, such as 30s, 10m or 1h30m"
		case *cli.IntFlag, *cli.Uint64Flag:
			ue.hint = dashed(name) + " takes a whole number"
		}
	}
	return ue
}

// versionHint is the hint for -v or --version after a command: it is
// the program's version flag, and a gc -v likely meant --verbose.
func versionHint(cmd *cli.Command, name string) string {
	if name == "v" && findFlag(cmd.Flags, "verbose") != nil {
		return "did you mean --verbose? -v is aliaslease's own version flag (aliaslease -v)"
	}
	return dashed(name) + " is aliaslease's own version flag, before any command: aliaslease " + dashed(name)
}

// dashed writes a flag's name as it is typed: -n, --wait.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// findFlag returns the flag of flags named name, or nil.
func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// nearestFlag returns the name of the flag of flags that name is a typo
// of (at most two letters added, dropped or changed, and not all of
// them), or "" when none is that near: a flag far from every one gets no
// guess. One-letter names (-h) are no one's guess.
func nearestFlag(flags []cli.Flag, name string) string {
	best, bestD := "", min(3, len(name))
	for _, f := range flags {
		for _, n := range f.Names() {
			if d := editDistance(name, n); d < bestD && len(n) > 1 {
				best, bestD = n, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
