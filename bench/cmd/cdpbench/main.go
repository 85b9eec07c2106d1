// Command cdpbench runs cdpkit's benchmark suites against the tools a team
// would use instead — DuckDB in process, expr-lang, cel-go used naively and
// plain Go — on the same generated data, checks that every peer's answer
// equals cdpkit's, and reports medians as a table, JSON lines, an SVG chart
// and BENCHMARKS.md.
//
// Usage, from the bench directory:
//
//	go run ./cmd/cdpbench [flags]
//
// Examples:
//
//	go run ./cmd/cdpbench -suite segment -members 10000000
//	go run ./cmd/cdpbench -members 1000000,10000000 -md ../BENCHMARKS.md -svg benchmarks.svg
//	go run ./cmd/cdpbench -suite rfm -json > rfm.jsonl
//	go run ./cmd/cdpbench -in rfm.jsonl,segment.jsonl -md ../BENCHMARKS.md
//
// The exit code is 0 when every case ran and every peer agreed with cdpkit,
// 1 when a peer disagreed or an implementation failed, and 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/bench/suite"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	suites  string
	members []int
	seed    uint64
	json    bool
	svg     string
	md      string
	in      []string
	note    string
	opt     harness.Options
	quiet   bool
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "cdpbench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	suites, err := suite.Select(cfg.suites)
	if err != nil {
		fmt.Fprintf(stderr, "cdpbench: %v\n", err)
		return 2
	}

	var progress *harness.Progress
	if !cfg.quiet {
		tty := false
		if f, ok := stderr.(*os.File); ok {
			tty = harness.IsTerminal(f)
		}
		progress = harness.NewProgress(stderr, tty)
	}

	var results []harness.Result
	var failures []error
	machine := harness.ThisMachine(time.Now())
	if os.Getenv("GOMEMLIMIT") == "" && machine.MemBytes > 0 {
		// At tens of millions of members the live data is most of the
		// machine's memory; by default the heap may grow to twice the
		// live data before a collection, which would not fit. A soft limit
		// makes the collector work harder near it instead.
		debug.SetMemoryLimit(machine.MemBytes / 100 * 85)
	}
	if len(cfg.in) > 0 {
		for _, name := range cfg.in {
			rs, err := readResults(name)
			if err != nil {
				fmt.Fprintf(stderr, "cdpbench: %v\n", err)
				return 1
			}
			results = append(results, rs...)
		}
	} else {
		results, failures, err = measure(ctx, cfg, suites, progress, stdout, stderr, &machine)
		if err != nil {
			fmt.Fprintf(stderr, "cdpbench: %v\n", err)
			return 1
		}
	}

	tableOut := stdout
	if cfg.json {
		tableOut = stderr
	}
	if len(results) > 0 {
		fmt.Fprintln(tableOut)
		if err := harness.WriteTable(tableOut, results); err != nil {
			fmt.Fprintf(stderr, "cdpbench: %v\n", err)
			return 1
		}
	}
	if cfg.svg != "" {
		if err := writeFile(cfg.svg, func(w io.Writer) error {
			return harness.WriteSVG(w, "cdpkit and its peers: median time per operation vs members (log–log)", results)
		}); err != nil {
			fmt.Fprintf(stderr, "cdpbench: %v\n", err)
			return 1
		}
	}
	if cfg.md != "" {
		rep := harness.Report{
			Command: "cd bench && go run ./cmd/cdpbench " + quoteArgs(args),
			Machine: machine,
			Results: results,
			Goals:   suite.Goals(suites),
			Cases:   suite.Docs(suites),
			Note:    cfg.note,
		}
		if cfg.svg != "" {
			if rel, err := filepath.Rel(filepath.Dir(cfg.md), cfg.svg); err == nil {
				rep.SVG = filepath.ToSlash(rel)
			}
		}
		if err := writeFile(cfg.md, func(w io.Writer) error { return harness.WriteMarkdown(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "cdpbench: %v\n", err)
			return 1
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(stderr, "\ncdpbench: %d failure(s):\n", len(failures))
		for _, f := range failures {
			fmt.Fprintf(stderr, "  %v\n", f)
		}
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("cdpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./cmd/cdpbench [flags]\n\n"+
			"Runs cdpkit's benchmark suites against DuckDB, expr-lang, cel-go and plain-Go peers on\n"+
			"generated data, checks every peer's answer against cdpkit's, and reports medians.\n"+
			"Exit code 1 when a peer disagrees with cdpkit or an implementation fails.\n\nflags:\n")
		fs.PrintDefaults()
	}
	members := fs.String("members", "1000000", "comma-separated member counts to run at, e.g. 1000000,10000000")
	fs.StringVar(&cfg.suites, "suite", "all", "comma-separated suites: "+strings.Join(suite.Names(), ", ")+", or all")
	fs.Uint64Var(&cfg.seed, "seed", suite.Seed, "seed of the generated data")
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object per result on stdout (the table goes to stderr)")
	fs.StringVar(&cfg.svg, "svg", "", "write a log–log chart of time against members to `FILE`")
	fs.StringVar(&cfg.md, "md", "", "write the Markdown report (BENCHMARKS.md) to `FILE`")
	fs.StringVar(&cfg.note, "note", "", "a note printed at the top of the Markdown report (e.g. that figures are preliminary)")
	in := fs.String("in", "", "comma-separated JSON-lines files to report instead of running (from -json)")
	fs.IntVar(&cfg.opt.Runs, "runs", 0, "exact number of timed runs per implementation (0: follow -budget)")
	fs.DurationVar(&cfg.opt.Budget, "budget", 5*time.Second, "time each implementation's timed runs of a case aim to fill")
	fs.IntVar(&cfg.opt.MinRuns, "minruns", 3, "fewest timed runs unless they would take over four budgets")
	fs.IntVar(&cfg.opt.MaxRuns, "maxruns", 15, "most timed runs per implementation")
	fs.BoolVar(&cfg.quiet, "q", false, "no progress on stderr")
	skip := fs.String("skip", "", "comma-separated peers not to load or run, e.g. duckdb at sizes where it takes hours")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(*members, ",") {
		s = strings.TrimSpace(strings.ReplaceAll(s, "_", ""))
		if s == "" {
			continue
		}
		n, err := parseCount(s)
		if err != nil || n < 1 || n > 1<<32-1 {
			return cfg, fmt.Errorf("-members: %q is not a member count between 1 and 4294967295", s)
		}
		cfg.members = append(cfg.members, n)
	}
	if len(cfg.members) == 0 {
		return cfg, fmt.Errorf("-members: no member count given")
	}
	slices.Sort(cfg.members)
	cfg.members = slices.Compact(cfg.members)
	for _, s := range strings.Split(*in, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.in = append(cfg.in, s)
		}
	}
	for _, p := range strings.Split(*skip, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if p == harness.Reference {
			return cfg, fmt.Errorf("-skip: %s is the reference every peer is checked against; it cannot be skipped", p)
		}
		cfg.opt.Skip = append(cfg.opt.Skip, p)
	}
	if cfg.opt.Runs < 0 || cfg.opt.MinRuns < 1 || cfg.opt.MaxRuns < 1 || cfg.opt.Budget <= 0 {
		return cfg, fmt.Errorf("-runs must be ≥ 0, -minruns and -maxruns ≥ 1 and -budget positive")
	}
	return cfg, nil
}

// parseCount reads a member count written plainly or with a k, M or G
// suffix: 1000000, 1M, 2.5M.
func parseCount(s string) (int, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1e9, strings.TrimSuffix(s, "G")
	}
	if mult == 1 {
		n, err := strconv.Atoi(s)
		return n, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	n := f * mult
	if n != float64(int(n)) {
		return 0, fmt.Errorf("not a whole number")
	}
	return int(n), nil
}

// measure runs the suites at each size, smallest first, streaming JSON lines
// when asked.
func measure(ctx context.Context, cfg config, suites []suite.Suite, progress *harness.Progress, stdout, stderr io.Writer, machine *harness.Machine) ([]harness.Result, []error, error) {
	var emit func(harness.Result)
	var emitErr error
	if cfg.json {
		emit = func(r harness.Result) {
			if err := harness.WriteJSON(stdout, r); err != nil && emitErr == nil {
				emitErr = err
			}
		}
	}
	opt := cfg.opt
	if !cfg.quiet {
		opt.Log = stderr
	}
	runner := harness.NewRunner(opt, emit)
	tmp, err := os.MkdirTemp("", "cdpbench-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	machine.Extra = append(machine.Extra, suite.PeerVersions(ctx)...)
	for _, n := range cfg.members {
		for _, s := range suites {
			env := &suite.Env{Seed: cfg.seed, Members: n, Runner: runner, Progress: progress, TempDir: tmp}
			if err := s.Run(ctx, env); err != nil {
				return runner.Results(), runner.Failures(), fmt.Errorf("suite %s at %d members: %w", s.Name, n, err)
			}
			debug.FreeOSMemory()
		}
	}
	return runner.Results(), runner.Failures(), emitErr
}

func readResults(name string) ([]harness.Result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return harness.ReadJSON(f, name)
}

// writeFile writes through a temporary file renamed into place, so a
// failed run does not leave half a report.
func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return os.Rename(f.Name(), name)
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\|&;<>()*?") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
