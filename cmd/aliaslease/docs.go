//go:build !urfave_cli_no_docs

// The man page needs urfave/cli's docs, and with them blackfriday, whose
// package initialisation costs every process about 0.4 ms: a binary built
// with -tags urfave_cli_no_docs (as the README installs it) leaves them
// out, and its __gen-docs says so (docs_off.go).

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

// docFiles returns the files generated from the CLI definition: the man
// page and the completion scripts, by path under docs/.
func docFiles(app *cli.App) (map[string]string, error) {
	man, err := app.ToManWithSection(1)
	if err != nil {
		return nil, err
	}
	// urfave/cli's synopsis names the global flags only.
	man = strings.Replace(man, ".SH SYNOPSIS\naliaslease\n", ".SH SYNOPSIS\naliaslease [GLOBAL OPTIONS] COMMAND [COMMAND OPTIONS] [ARGS...]\n", 1)
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
