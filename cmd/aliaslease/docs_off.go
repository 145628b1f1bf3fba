//go:build urfave_cli_no_docs

package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// genDocsCmd cannot write the man page in a binary built without
// urfave/cli's docs (-tags urfave_cli_no_docs); go generate builds one
// with them.
func genDocsCmd(*cli.Context) error {
	return errors.New("this aliaslease was built with -tags urfave_cli_no_docs, without the man page generator; run go generate ./cmd/aliaslease")
}
