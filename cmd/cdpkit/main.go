// Command cdpkit runs cdpkit's packages over files: generate synthetic data,
// resolve identities, score RFM and lifetime value, evaluate tags, count and
// export segments, replay a loyalty programme.
//
// Usage:
//
//	cdpkit <command> [flags] [args]
//	cdpkit help <command>
//
// Exit codes: 0 success; 1 the work failed (bad input, I/O); 2 the command
// line was wrong. Progress goes to standard error, results to standard
// output or the files named by flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
)

// A command is one subcommand of cdpkit. Each lives in its own file and
// registers itself from init, so commands can be added without touching
// this file.
type command struct {
	name    string // as typed, e.g. "gen" or "clv fit"
	summary string // one line for the command list
	usage   string // the argument synopsis after the name, e.g. "[flags] FILE"
	help    string // paragraphs shown by --help after the usage line
	// flags declares the command's flags on fs and returns the function that
	// runs it with the remaining arguments.
	flags func(fs *flag.FlagSet) func(ctx context.Context, env *env, args []string) error
}

// env is what a command sees of the process: its streams, so tests can run
// commands without touching the real ones.
type env struct {
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

// usageError marks a wrong command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		printCommands(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "help" {
		if len(args) == 1 {
			printCommands(e.stdout)
			return 0
		}
		args = append(args[1:], "--help")
	}
	c, rest := lookup(args)
	if c == nil {
		fmt.Fprintf(e.stderr, "cdpkit: unknown command %q; run 'cdpkit help' for the list\n", strings.Join(args[:min(len(args), 2)], " "))
		return 2
	}
	fs := flag.NewFlagSet("cdpkit "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	runFn := c.flags(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: cdpkit %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.help))
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(w, "\nflags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
		}
	}
	// The flag package prints a parse error itself and then calls Usage;
	// the full usage goes to stdout only when asked for.
	fs.Usage = func() {}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(e.stdout)
			return 0
		}
		fmt.Fprintf(e.stderr, "run 'cdpkit help %s' for usage\n", c.name)
		return 2
	}
	if err := runFn(ctx, e, fs.Args()); err != nil {
		fmt.Fprintf(e.stderr, "cdpkit %s: %v\n", c.name, err)
		var ue *usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// lookup finds the command named by the longest prefix of args ("clv fit"
// before "clv") and returns it with the arguments that follow its name.
func lookup(args []string) (*command, []string) {
	var best *command
	var bestWords int
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(words) <= len(args) && slices.Equal(words, args[:len(words)]) && len(words) > bestWords {
			best, bestWords = c, len(words)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[bestWords:]
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "usage: cdpkit <command> [flags] [args]\n\ncommands:")
	sorted := slices.Clone(commands)
	slices.SortFunc(sorted, func(a, b *command) int { return strings.Compare(a.name, b.name) })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'cdpkit help <command>' for a command's flags and file formats.")
}
