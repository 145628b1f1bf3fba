package main

import (
	"io"
	"regexp"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/lease"
)

func newApp(stdout, stderr io.Writer) *cli.App {
	var app *cli.App
	onUsage := func(c *cli.Context, err error, _ bool) error {
		return flagError(app, c.Command, longFlags(err.Error()))
	}
	app = &cli.App{
		Name:  "aliaslease",
		Usage: "lease each sandbox its own loopback alias",
		Description: "aliaslease keeps slug→alias leases in a locked bbolt file and reconciles them\n" +
			"against the ports Docker publishes, so that concurrent launches never share an\n" +
			"alias and the leases of vanished bottles are reclaimed.\n\n" +
			"   aliaslease acquire my-bottle        # prints 127.0.0.16\n" +
			"   aliaslease release my-bottle\n" +
			"   aliaslease gc                       # from cron\n\n" + exitCodesHelp(),
		Version:                version(),
		Writer:                 stdout,
		ErrWriter:              stderr,
		HideHelpCommand:        true,
		OnUsageError:           onUsage,
		ExitErrHandler:         func(*cli.Context, error) {},
		UseShortOptionHandling: false,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Usage: "lease database `PATH` (env ALIASLEASE_DB; default $XDG_STATE_HOME/aliaslease/leases.db or ~/.local/state/aliaslease/leases.db)"},
			&cli.StringFlag{Name: "pool", Usage: "addresses to hand out: `SPEC` of addresses, A-B ranges and CIDRs, comma-separated (env ALIASLEASE_POOL; default " + lease.DefaultPool + ")"},
			&cli.StringFlag{Name: "docker", Usage: "whether to ask Docker: `MODE` auto, on or off (env ALIASLEASE_DOCKER; default auto)"},
			&cli.StringFlag{Name: "docker-host", Usage: "Docker daemon `URL` (default: DOCKER_HOST, the current context, then the default socket)"},
			&cli.DurationFlag{Name: "docker-timeout", Value: 5 * time.Second, Usage: "bound on all Docker calls of one command, a `DURATION`"},
			&cli.DurationFlag{Name: "lock-timeout", Value: lease.DefaultLockTimeout, Usage: "how long to wait for the lock, a `DURATION`"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().First() == "help" { // "aliaslease help [COMMAND]", as git and docker take it
				if c.NArg() == 1 {
					return cli.ShowAppHelp(c)
				}
				if findCommand(c.App.Commands, c.Args().Get(1)) == nil {
					return usagef("help: no command %q; see aliaslease --help", c.Args().Get(1))
				}
				return cli.ShowCommandHelp(c, c.Args().Get(1))
			}
			if c.Args().Present() {
				return usagef("unknown command %q; see aliaslease --help", c.Args().First())
			}
			return usagef("no command given; see aliaslease --help")
		},
		Commands: []*cli.Command{
			acquireCommand(), releaseCommand(), listCommand(), inspectCommand(), gcCommand(), poolCommand(),
			doctorCommand(), logCommand(), runCommand(), recoverCommand(), completionCommand(),
			metricsCommand(), cleanupCommand(), shareCommand(),
			verifyCommand(), confineCommand(),
			probeCommand(),
			completeCommand(), genDocsCommand(),
		},
	}
	setUsage(app.Commands, onUsage)
	return app
}

// jsonFlag is --json, which every command that prints has.
func jsonFlag(dst *bool) cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON", Destination: dst}
}

// graceFlag is --grace, which the commands that judge leases have:
// acquire, run, list, gc and doctor.
func graceFlag(dst *time.Duration) cli.Flag {
	return &cli.DurationFlag{Name: "grace", Value: lease.DefaultGrace, Destination: dst,
		Usage: "a holderless lease renewed less than `DURATION` ago is pending, not stale"}
}

func setUsage(cmds []*cli.Command, fn cli.OnUsageErrorFunc) {
	for _, c := range cmds {
		c.OnUsageError = fn
		// "h" and "help" are slugs like any other: no command takes them
		// as a help topic ("aliaslease help COMMAND" and --help remain).
		c.HideHelpCommand = true
		setUsage(c.Subcommands, fn)
		if len(c.Subcommands) > 0 && c.Action == nil {
			name := c.Name
			c.Action = func(c *cli.Context) error {
				if c.Args().Present() {
					return usagef("unknown command %q for %s; see aliaslease %s --help", c.Args().First(), name, name)
				}
				return usagef("%s needs a command; see aliaslease %s --help", name, name)
			}
		}
	}
}

// versionNumber is the release this binary is, as --version prints it
// ("aliaslease version 0.3.0") and the Python package checks it. A
// release build may set it: go build -ldflags "-X main.versionNumber=0.3.1".
var versionNumber = "0.3.0"

func version() string { return versionNumber }

// shortFlag finds a flag name the Go flag package wrote with one dash. It
// is compiled only for a usage error, not in every process's start-up.
var shortFlag = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(^|[\s:])-([a-zA-Z][a-zA-Z0-9-]+)\b`)
})

// longFlags writes the flags named in a flag-parsing error as they are
// typed, --name: the flag package underneath urfave/cli names them -name.
func longFlags(msg string) string {
	return shortFlag().ReplaceAllString(msg, "$1--$2")
}
