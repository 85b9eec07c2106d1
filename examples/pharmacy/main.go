// Command pharmacy runs cdpkit end to end over a synthetic pharmacy chain —
// the README's main job — and writes what it finds to standard output and
// to report.html.
//
// The story, in internal/pharmacy: one million members (by default) of a
// chain with stores, WeChat and Alipay mini programs, Taobao, JD and
// Meituan shops and an insurer partner, and about twenty million orders
// and refunds over three years. It resolves every identifier observation
// into persons (OneID) and scores them against the true members; keys the
// orders to persons; computes RFM scores and lifetime value; tags chronic
// patients, refills due, pre-dormant and omnichannel members; runs the
// loyalty programme's tiers and points; and picks the audience of a refill
// reminder, split 90/10 into campaign and hold-out.
//
//	go run ./examples/pharmacy
//	go run ./examples/pharmacy -members 100000 -seed 7 -html /tmp/report.html
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/cdpkit/cdpkit/internal/pharmacy"
)

func main() {
	members := flag.Int("members", 1_000_000, "number of members of the chain")
	seed := flag.Uint64("seed", 1, "seed of the generated data")
	meanOrders := flag.Float64("mean-orders", 13.5, "mean everyday orders per member over three years (refills come on top)")
	html := flag.String("html", "report.html", "where to write the HTML report (empty: none)")
	quiet := flag.Bool("quiet", false, "no progress on standard error")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var progress io.Writer = os.Stderr
	if *quiet {
		progress = nil
	}
	cfg := pharmacy.Config{Members: *members, Seed: *seed, MeanOrders: *meanOrders}
	if err := run(ctx, cfg, *html, os.Stdout, progress); err != nil {
		fmt.Fprintln(os.Stderr, "pharmacy:", err)
		os.Exit(1)
	}
}

// run runs the story, prints the report to out and writes the HTML report
// to the file html (none if empty); progress, if not nil, hears each stage
// as it starts.
func run(ctx context.Context, cfg pharmacy.Config, html string, out, progress io.Writer) error {
	if progress != nil {
		start := time.Now()
		next := cfg.Progress
		cfg.Progress = func(stage string) {
			fmt.Fprintf(progress, "%6.1fs  %s\n", time.Since(start).Seconds(), stage)
			if next != nil {
				next(stage)
			}
		}
	}
	rep, err := pharmacy.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.WriteText(out); err != nil {
		return err
	}
	if html == "" {
		return nil
	}
	if err := writeHTML(rep, html); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "\nwrote %s\n", html)
	return err
}

func writeHTML(rep *pharmacy.Report, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
