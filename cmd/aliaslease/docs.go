package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

// docFiles returns the files generated from the CLI definition, the
// completion scripts, by path under docs/. The man page, docs/aliaslease.1,
// is written by hand; docs_test.go checks it against the CLI.
func docFiles() map[string]string {
	files := map[string]string{}
	for shell, script := range completionScripts {
		files[filepath.Join("completion", "aliaslease."+shell)] = script
	}
	return files
}

// genDocsCmd writes docFiles under the directory given (go generate runs
// it); a test checks that the files in docs/ are current.
func genDocsCmd(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("__gen-docs DIR")
	}
	for name, content := range docFiles() {
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
