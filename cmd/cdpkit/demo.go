package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cdpkit/cdpkit/internal/pharmacy"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "run the pharmacy story end to end on a small synthetic chain",
		usage:   "[flags]",
		help: `Runs examples/pharmacy's story on a synthetic pharmacy chain, by default
20,000 members (about 400,000 orders and refunds), in a few seconds: OneID
over stores, mini programs, platforms and an insurer, scored against the
true members; orders keyed to persons; RFM scores and the R×F grid; BG/NBD
and Gamma-Gamma lifetime value; chronic, refill-due, pre-dormant and
omnichannel tags; loyalty tiers and points; and the audience of a refill
reminder split 90/10 into campaign and hold-out.

The report goes to standard output, stage progress to standard error.
--html writes the report with its charts as one self-contained HTML file.
The same --members and --seed give the same report, timings aside.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			members := fs.Int("members", 20_000, "number of members of the chain")
			seed := fs.Uint64("seed", 1, "seed of the generated data")
			html := fs.String("html", "", "write the HTML report to this file")
			quiet := fs.Bool("quiet", false, "no progress on standard error")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 0 {
					return usagef("demo takes no arguments, got %q", args)
				}
				if *members < 1 || *members > pharmacy.MaxMembers {
					return usagef("-members %d out of range 1..%d", *members, pharmacy.MaxMembers)
				}
				cfg := pharmacy.Config{Members: *members, Seed: *seed}
				if !*quiet {
					start := time.Now()
					cfg.Progress = func(stage string) {
						fmt.Fprintf(e.stderr, "%6.1fs  %s\n", time.Since(start).Seconds(), stage)
					}
				}
				rep, err := pharmacy.Run(ctx, cfg)
				if err != nil {
					return err
				}
				if err := rep.WriteText(e.stdout); err != nil {
					return err
				}
				if *html == "" {
					return nil
				}
				f, err := os.Create(*html)
				if err != nil {
					return err
				}
				if err := rep.WriteHTML(f); err != nil {
					f.Close()
					return fmt.Errorf("write %s: %w", *html, err)
				}
				return f.Close()
			}
		},
	})
}
