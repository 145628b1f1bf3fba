package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

//go:generate go run . __gen-docs ../../docs

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

// docFiles returns the files generated from the CLI definition: the man
// page and the completion scripts, by path under docs/.
func docFiles(app *cli.App) (map[string]string, error) {
	man, err := app.ToManWithSection(1)
	if err != nil {
		return nil, err
	}
	files := map[string]string{"aliaslease.1": man}
	for shell, script := range completionScripts {
		files[filepath.Join("completion", "aliaslease."+shell)] = script
	}
	return files, nil
}

// genDocsCmd writes docFiles under the directory given (go generate runs
// it); a test checks that the files in docs/ are current.
func genDocsCmd(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("__gen-docs DIR")
	}
	files, err := docFiles(newApp(nil, nil))
	if err != nil {
		return err
	}
	for name, content := range files {
		path := filepath.Join(c.Args().First(), name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(c.App.ErrWriter, "wrote", path)
	}
	return nil
}
