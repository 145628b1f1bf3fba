//go:build !urfave_cli_no_docs

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsCurrent checks that the man page and the completion scripts in
// docs/ are what the CLI definition generates now. Regenerate them with
// "go generate ./cmd/aliaslease".
func TestDocsCurrent(t *testing.T) {
	files, err := docFiles(newApp(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil || string(got) != want {
			t.Errorf("docs/%s is not current (%v); run go generate ./cmd/aliaslease", name, err)
		}
	}
	if man := files["aliaslease.1"]; !strings.Contains(man, "recover") || strings.Contains(man, "__complete") {
		t.Errorf("the man page lacks a command or shows a hidden one")
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
