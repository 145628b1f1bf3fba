package main

import "github.com/urfave/cli/v2"

//go:generate go run . __gen-docs ../../docs

// genDocsCommand is the hidden command that writes the completion scripts.
func genDocsCommand() *cli.Command {
	return &cli.Command{
		Name:            "__gen-docs",
		Hidden:          true,
		HideHelp:        true,
		SkipFlagParsing: true,
		Action:          genDocsCmd,
	}
}
