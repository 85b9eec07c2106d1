package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // programmes name IANA zones; do not depend on the host's zoneinfo

	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/loyalty/boltstore"
)

func init() {
	register(&command{
		name:    "loyalty replay",
		summary: "apply loyalty operations from JSON lines and print balances, tiers and the ledger",
		usage:   "--program program.json [flags] events.jsonl|-",
		help: `
Applies each line of events.jsonl (one operation per line, as the loyalty
package's UnmarshalOp reads it: {"op":"order","tx":"t-1","member":1,
"at":"2025-01-05T10:12:00+08:00","order":"SO-1","lines":[{"category":"otc",
"paid":45680}]}) to the programme in program.json, in file order, then
prints every member's balances as of --as-of (default: the latest event
time), their card periods and, with --ledger, their ledger entries. Events
raised (tier changes, points expiring soon, card guarantees due) are
listed as they happen. A "merge" line ({"op":"merge","tx":"m-1",
"member":1,"from":2,"at":…}) moves member 2's account into member 1's;
later lines naming member 2 fail, and it is listed as merged.

A line that cannot be read or applied is reported as FILE:LINE with the
reason, and the replay carries on with the rest; the exit code is then 1.
Blank lines and lines starting with # are skipped. With --db the
operations go to a durable bbolt file (created if missing), so a replay
can be resumed: lines already applied are replays and change nothing.`,
		flags: func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			program := fs.String("program", "", "programme rules `file` (JSON)")
			db := fs.String("db", "", "apply to this bbolt `file` instead of memory")
			asOf := fs.String("as-of", "", "print balances as of this `time` (RFC 3339)")
			ledger := fs.Bool("ledger", false, "print each member's ledger entries")
			asJSON := fs.Bool("json", false, "print one JSON object per member instead of text")
			return func(ctx context.Context, e *env, args []string) error {
				if *program == "" {
					return usagef("--program is required")
				}
				if len(args) != 1 {
					return usagef("want one events file (or - for standard input), got %d", len(args))
				}
				var at time.Time
				if *asOf != "" {
					t, err := time.Parse(time.RFC3339Nano, *asOf)
					if err != nil {
						return usagef("--as-of %q: want an RFC 3339 time such as 2025-06-30T23:59:59+08:00", *asOf)
					}
					at = t
				}
				return loyaltyReplay(ctx, e, replayArgs{program: *program, events: args[0], db: *db, asOf: at, ledger: *ledger, json: *asJSON})
			}
		},
	})
}

type replayArgs struct {
	program, events, db string
	asOf                time.Time
	ledger, json        bool
}

func loyaltyReplay(ctx context.Context, e *env, a replayArgs) error {
	data, err := os.ReadFile(a.program)
	if err != nil {
		return err
	}
	p, err := loyalty.ParseProgram(data)
	if err != nil {
		return fmt.Errorf("%s:%w", a.program, prefixColon(err))
	}

	var in io.Reader = e.stdin
	name := "stdin"
	if a.events != "-" {
		f, err := os.Open(a.events)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, a.events
	}

	var store loyalty.Store = loyalty.NewMemStore()
	if a.db != "" {
		bs, err := boltstore.Open(a.db, nil)
		if err != nil {
			return err
		}
		store = bs
	}
	defer store.Close()

	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	var events []loyalty.Event
	l := loyalty.NewLedger(p, store, &loyalty.Options{Notifier: loyalty.NotifierFunc(func(ev loyalty.Event) {
		events = append(events, ev)
	})})

	var latest time.Time
	lines, failed, applied := 0, 0, 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		lines++
		op, err := loyalty.UnmarshalOp([]byte(text))
		if err == nil {
			var r *loyalty.Receipt
			if r, err = l.Apply(ctx, op); err == nil && r.Recorded {
				applied++
			}
			if op.Time().After(latest) {
				latest = op.Time()
			}
		}
		if err != nil {
			failed++
			fmt.Fprintf(e.stderr, "%s:%d: %v\n", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}

	if a.asOf.IsZero() {
		a.asOf = latest
	}
	if err := printReplay(ctx, out, l, events, a); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d lines, %d recorded, %d failed\n", lines, applied, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d lines of %s failed", failed, lines, name)
	}
	return nil
}

// prefixColon turns "2:5: msg" into ":2:5: msg" and anything else into
// " msg", so the file name can be glued in front.
func prefixColon(err error) error {
	if s := err.Error(); len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
		return err
	}
	return fmt.Errorf(" %w", err)
}

func printReplay(ctx context.Context, out *bufio.Writer, l *loyalty.Ledger, events []loyalty.Event, a replayArgs) error {
	loc := l.Program().Location()
	ts := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04") }
	var members []uint32
	for m, err := range l.Members(ctx) {
		if err != nil {
			return err
		}
		members = append(members, m)
	}
	slices.Sort(members)

	if a.json {
		enc := json.NewEncoder(out)
		for _, m := range members {
			b, err := l.Balance(ctx, m, a.asOf)
			if err != nil {
				return err
			}
			rec := struct {
				loyalty.Balance
				Ledger []loyalty.Entry `json:"ledger,omitempty"`
			}{Balance: b}
			if a.ledger {
				if rec.Ledger, err = collect(l.Entries(ctx, m)); err != nil {
					return err
				}
			}
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
		return nil
	}

	if len(events) > 0 {
		fmt.Fprintln(out, "events:")
		for _, ev := range events {
			fmt.Fprintf(out, "  %s member %d %s", ts(ev.At), ev.Member, ev.Kind)
			switch ev.Kind {
			case loyalty.EventTierChanged:
				fmt.Fprintf(out, " %s→%s", ev.FromTier, ev.ToTier)
			case loyalty.EventPointsExpiringSoon:
				fmt.Fprintf(out, " %d points at %s", ev.Points, ts(ev.ExpiresAt))
			case loyalty.EventCardGuaranteeDue:
				fmt.Fprintf(out, " %s fee %s savings %s refund %s", ev.Card, yuan(ev.Fee), yuan(ev.Savings), yuan(ev.Refund))
			}
			fmt.Fprintf(out, " (tx %s)\n", ev.Tx)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "balances as of %s:\n", a.asOf.In(loc).Format(time.RFC3339))
	for _, m := range members {
		b, err := l.Balance(ctx, m, a.asOf)
		if err != nil {
			return err
		}
		if b.Merged {
			fmt.Fprintf(out, "member %d: merged into member %d\n", m, b.MergedInto)
			if err := printEntries(ctx, out, l, m, ts, a.ledger); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(out, "member %d: tier %s (growth %d", m, b.Tier, b.Growth)
		if !b.TierSince.IsZero() {
			fmt.Fprintf(out, ", since %s", ts(b.TierSince))
		}
		fmt.Fprintf(out, ")  points %d available, %d pending, %d lifetime", b.Available, b.Pending, b.Lifetime)
		if b.Debt != 0 {
			fmt.Fprintf(out, ", %d owed", b.Debt)
		}
		if b.Principal != 0 || b.Bonus != 0 {
			fmt.Fprintf(out, "  stored value %s + %s bonus", yuan(b.Principal), yuan(b.Bonus))
		}
		if len(b.MergedFrom) > 0 {
			fmt.Fprintf(out, "  merged from %s", strings.Trim(fmt.Sprint(b.MergedFrom), "[]"))
		}
		fmt.Fprintln(out)
		for _, x := range b.Expiring {
			fmt.Fprintf(out, "  expiring %s: %d\n", ts(x.At), x.Points)
		}
		for _, c := range b.Cards {
			fmt.Fprintf(out, "  card %s %s..%s %s fee %s savings %s", c.Product, ts(c.Start), ts(c.End), c.Status, yuan(c.Fee), yuan(c.Savings))
			if c.Guarantee != 0 {
				fmt.Fprintf(out, " guarantee %s", yuan(c.Guarantee))
			}
			if c.Refunded != 0 {
				fmt.Fprintf(out, " refunded %s", yuan(c.Refunded))
			}
			fmt.Fprintln(out)
		}
		if err := printEntries(ctx, out, l, m, ts, a.ledger); err != nil {
			return err
		}
	}
	return nil
}

func printEntries(ctx context.Context, out *bufio.Writer, l *loyalty.Ledger, m uint32, ts func(time.Time) string, on bool) error {
	if !on {
		return nil
	}
	es, err := collect(l.Entries(ctx, m))
	if err != nil {
		return err
	}
	for _, en := range es {
		fmt.Fprintf(out, "  %s %s\n", ts(en.At), en)
	}
	return nil
}

func collect[T any](seq func(func(T, error) bool)) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// yuan formats fen as yuan with two decimals.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}
