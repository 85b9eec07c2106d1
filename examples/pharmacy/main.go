// Command pharmacy runs cdpkit over a synthetic pharmacy chain and reports
// what it finds.
//
// This first version profiles the chain's data as the later stages will
// see it — members, channels, chronic patients, orders and refills, and
// the identifier feed with its junk values and shared phones — while the
// identity, rfm, tags, segment and loyalty stages are being built.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/cdpkit/cdpkit/internal/synth"
)

func main() {
	members := flag.Int("members", 200_000, "number of members")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*members, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "pharmacy:", err)
		os.Exit(1)
	}
}

func run(members int, seed uint64) error {
	g, err := synth.New(synth.Config{Seed: seed, Members: members})
	if err != nil {
		return err
	}
	cfg := g.Config()
	fmt.Printf("cdpkit pharmacy example: %d members, %s to %s\n\n", members,
		cfg.Start.Format(time.DateOnly), cfg.End.Format(time.DateOnly))

	t0 := time.Now()
	cities := map[string]int{}
	channels := map[string]int{}
	var lapsed, chronic int
	for m := range g.Members() {
		cities[m.City]++
		channels[m.Channel.String()]++
		if m.Lapsed() {
			lapsed++
		}
		if m.Conditions != 0 {
			chronic++
		}
	}
	fmt.Printf("members        %d, %.1f%% lapsed, %.1f%% with a chronic condition (%s)\n",
		members, pct(lapsed, members), pct(chronic, members), time.Since(t0).Round(time.Millisecond))
	fmt.Printf("top cities     %s\n", top(cities, 5, members))
	fmt.Printf("registered via %s\n", top(channels, 6, members))

	t0 = time.Now()
	var orders, refunds, refills int
	var revenue int64
	for o := range g.Orders() {
		revenue += o.Amount
		if o.IsRefund() {
			refunds++
			continue
		}
		orders++
		if o.Lines[0].DaysSupply > 0 {
			refills++
		}
	}
	fmt.Printf("orders         %d (%.1f per member), %d refills, %d refunds, net %.0f yuan (%s)\n",
		orders, float64(orders)/float64(members), refills, refunds, float64(revenue)/100, time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	junk := map[string]bool{}
	for _, v := range synth.JunkValues() {
		junk[v] = true
	}
	var obs, ids, junked int
	for o := range g.Observations() {
		obs++
		ids += len(o.IDs)
		for _, x := range o.IDs {
			if junk[x.Value] {
				junked++
				break
			}
		}
	}
	fmt.Printf("observations   %d, %.1f identifiers each, %.1f%% carry a junk value (%s)\n",
		obs, float64(ids)/float64(obs), pct(junked, obs), time.Since(t0).Round(time.Millisecond))
	fmt.Println("\nIdentity resolution, RFM, tags, audiences and loyalty join this report as their packages land.")
	return nil
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(max(of, 1)) }

func top(counts map[string]int, n, total int) string {
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
	var s string
	for i, k := range keys[:min(n, len(keys))] {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.1f%%", k, pct(counts[k], total))
	}
	return s
}
