package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

func completionCmd(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("completion: one SHELL expected: bash, zsh or fish")
	}
	script, ok := completionScripts[c.Args().First()]
	if !ok {
		return usagef("completion: no script for %q; bash, zsh and fish are supported", c.Args().First())
	}
	_, err := io.WriteString(c.App.Writer, script)
	return err
}

// completeCmd prints the candidates for the last word of a command line
// (the words after "aliaslease"), one a line: commands, flags, flag values,
// and slugs from the database for commands that take one.
func completeCmd(c *cli.Context) error {
	words := c.Args().Slice()
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	for _, cand := range candidates(c.App, before, cur) {
		if strings.HasPrefix(cand, cur) {
			fmt.Fprintln(c.App.Writer, escape(cand)) // slugs come from the database
		}
	}
	return nil
}

func candidates(app *cli.App, before []string, cur string) []string {
	global := map[string]string{}
	flags, cmds := app.Flags, app.Commands
	var cmd *cli.Command
	var positional int
	prevTakesValue := ""
	if len(before) > 0 && before[0] == "help" {
		if len(before) == 1 {
			return commandNames(cmds) // help COMMAND
		}
		return nil
	}
	for _, w := range before {
		switch {
		case prevTakesValue != "":
			if cmd == nil {
				global[prevTakesValue] = w
			}
			prevTakesValue = ""
		case strings.HasPrefix(w, "-"):
			if takesValue(flags, w) {
				prevTakesValue = strings.TrimLeft(w, "-")
			} else if cmd == nil {
				if k, v, ok := strings.Cut(strings.TrimLeft(w, "-"), "="); ok {
					global[k] = v
				}
			}
		case cmd == nil || len(cmd.Subcommands) > 0:
			if next := findCommand(cmds, w); next != nil {
				cmd, flags, cmds = next, next.Flags, next.Subcommands
			}
		default:
			positional++
		}
	}
	switch {
	case prevTakesValue == "docker":
		return []string{"auto", "on", "off"}
	case prevTakesValue == "slug":
		return databaseSlugs(global)
	case prevTakesValue != "":
		return nil
	case strings.HasPrefix(cur, "-"):
		return flagNames(flags)
	case cmd == nil:
		return append(commandNames(cmds), "help") // git and docker take "help COMMAND" too
	case len(cmd.Subcommands) > 0:
		return commandNames(cmds)
	case cmd.Name == "completion" && positional == 0:
		return []string{"bash", "fish", "zsh"}
	case (cmd.Name == "acquire" || cmd.Name == "release" || cmd.Name == "run" || cmd.Name == "verify" || cmd.Name == "confine") && positional == 0:
		return databaseSlugs(global)
	}
	return nil
}

// flagNames returns every name of flags as typed: -n, --json.
func flagNames(flags []cli.Flag) []string {
	var out []string
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) == 1 {
				out = append(out, "-"+n)
			} else {
				out = append(out, "--"+n)
			}
		}
	}
	return out
}

// commandNames returns the names of the commands that are not hidden.
func commandNames(cmds []*cli.Command) []string {
	var out []string
	for _, c := range cmds {
		if !c.Hidden {
			out = append(out, c.Name)
		}
	}
	return out
}

// databaseSlugs lists the slugs in the database named by the global flags or the
// environment, quickly: a short lock timeout, and never Docker.
func databaseSlugs(global map[string]string) []string {
	path := global["db"]
	if path == "" {
		path = os.Getenv("ALIASLEASE_DB")
	}
	path, err := dbPath(path)
	if err != nil {
		return nil
	}
	m := &lease.Manager{Path: path}
	out, _ := m.Slugs(context.Background())
	return out
}

// completionScripts are printed by "aliaslease completion SHELL" and
// checked in under docs/completion. Each asks "aliaslease __complete" for
// the candidates of the word being completed, so commands, flags and the
// slugs in the database come from the binary itself.
var completionScripts = map[string]string{
	"bash": `# bash completion for aliaslease: source it, or put it in
# /etc/bash_completion.d/aliaslease (aliaslease completion bash > ...)
_aliaslease() {
	local IFS=$'\n'
	COMPREPLY=($(aliaslease __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _aliaslease aliaslease
`,
	"zsh": `#compdef aliaslease
# zsh completion for aliaslease: put it in a directory of $fpath as
# _aliaslease (aliaslease completion zsh > "${fpath[1]}/_aliaslease"), or
# source it after compinit.
_aliaslease() {
	local -a candidates
	candidates=("${(@f)$(aliaslease __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	compadd -- "${candidates[@]}"
}
if [ "$funcstack[1]" = "_aliaslease" ]; then
	_aliaslease "$@"
else
	compdef _aliaslease aliaslease
fi
`,
	"fish": `# fish completion for aliaslease:
# aliaslease completion fish > ~/.config/fish/completions/aliaslease.fish
complete -c aliaslease -f -a '(aliaslease __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`,
}

// completionCommand is "aliaslease completion SHELL".
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "SHELL",
		UsageText: "aliaslease completion bash|zsh|fish\n\nEXAMPLE:\n   source <(aliaslease completion bash)",
		Action:    completionCmd,
	}
}

// completeCommand is the hidden command the completion scripts call.
func completeCommand() *cli.Command {
	return &cli.Command{
		Name:            "__complete",
		Hidden:          true,
		HideHelp:        true, // "__complete help" and "__complete h" are words to complete
		SkipFlagParsing: true,
		Action:          completeCmd,
	}
}
