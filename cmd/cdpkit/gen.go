package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cdpkit/cdpkit/internal/synth"
)

func init() {
	register(&command{
		name:    "gen",
		summary: "generate a synthetic retail or pharmacy chain as CSV and JSON lines files",
		usage:   "[flags] DIR",
		help: `Writes a deterministic synthetic chain into DIR (created if missing):

  members.csv         member,age,gender,city,store,channel,channels,registered_at,lapsed_at,conditions
  orders.csv          order,member,time,channel,store,amount,refund_of
  order_lines.csv     order,line,category,sku,qty,amount,days_supply
  observations.jsonl  {"event":…,"source":…,"time":…,"ids":[{"kind":…,"value":…,"scope":…}],"true_member":…}

Times are RFC 3339 in the chain's zone; amounts are decimal yuan (29.33);
refunds have a negative amount and name the refunded order in refund_of.
true_member is the member behind an observation, for scoring a resolver;
resolvers must not read it. The same -seed gives the same files.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			members := fs.Int("members", 10_000, "number of members")
			seed := fs.Uint64("seed", 1, "random seed")
			profile := fs.String("profile", "pharmacy", "kind of chain: pharmacy or retail")
			meanOrders := fs.Float64("mean-orders", 10, "mean ordinary orders per member over the three years")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want one output directory, got %d arguments", len(args))
				}
				cfg := synth.Config{Seed: *seed, Members: *members, MeanOrders: *meanOrders}
				switch *profile {
				case "pharmacy":
				case "retail":
					cfg.Profile = synth.Retail
				default:
					return usagef("unknown -profile %q: want pharmacy or retail", *profile)
				}
				if *members <= 0 {
					return usagef("-members must be positive, got %d", *members)
				}
				g, err := synth.New(cfg)
				if err != nil {
					return err
				}
				return generate(ctx, e, g, args[0])
			}
		},
	})
}

func generate(ctx context.Context, e *env, g *synth.Generator, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	n := uint32(g.Config().Members)
	var nOrders, nObs int
	steps := []struct {
		file  string
		write func(w *bufio.Writer) error
	}{
		{"members.csv", func(w *bufio.Writer) error {
			w.WriteString("member,age,gender,city,store,channel,channels,registered_at,lapsed_at,conditions\n")
			for m := range g.Members() {
				writeMember(w, &m)
			}
			return nil
		}},
		{"orders.csv", func(w *bufio.Writer) error {
			lines, err := os.Create(filepath.Join(dir, "order_lines.csv"))
			if err != nil {
				return err
			}
			lw := bufio.NewWriterSize(lines, 1<<20)
			w.WriteString("order,member,time,channel,store,amount,refund_of\n")
			lw.WriteString("order,line,category,sku,qty,amount,days_supply\n")
			var buf []byte
			for o := range g.Orders() {
				buf = writeOrder(buf[:0], &o)
				w.Write(buf)
				for i, l := range o.Lines {
					buf = strconv.AppendUint(buf[:0], o.ID, 10)
					buf = append(buf, ',')
					buf = strconv.AppendInt(buf, int64(i), 10)
					buf = append(buf, ',')
					buf = append(buf, l.Category...)
					buf = append(buf, ',')
					buf = strconv.AppendUint(buf, uint64(l.SKU), 10)
					buf = append(buf, ',')
					buf = strconv.AppendInt(buf, int64(l.Qty), 10)
					buf = append(buf, ',')
					buf = appendYuan(buf, l.Amount)
					buf = append(buf, ',')
					buf = strconv.AppendInt(buf, int64(l.DaysSupply), 10)
					buf = append(buf, '\n')
					lw.Write(buf)
				}
				nOrders++
				if nOrders%1_000_000 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
					fmt.Fprintf(e.stderr, "gen: %d orders (member %d of %d)\n", nOrders, o.Member, n)
				}
			}
			return errors.Join(lw.Flush(), lines.Close())
		}},
		{"observations.jsonl", func(w *bufio.Writer) error {
			type id struct {
				Kind  string `json:"kind"`
				Value string `json:"value"`
				Scope string `json:"scope,omitempty"`
			}
			type obs struct {
				Event      uint64    `json:"event"`
				Source     string    `json:"source"`
				Time       time.Time `json:"time"`
				IDs        []id      `json:"ids"`
				TrueMember uint32    `json:"true_member"`
			}
			enc := json.NewEncoder(w)
			var o obs
			for x := range g.Observations() {
				o = obs{Event: x.EventID, Source: x.Source, Time: x.Time, IDs: o.IDs[:0], TrueMember: x.Member}
				for _, i := range x.IDs {
					o.IDs = append(o.IDs, id(i))
				}
				if err := enc.Encode(&o); err != nil {
					return err
				}
				nObs++
			}
			return nil
		}},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		path := filepath.Join(dir, s.file)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		err = s.write(w)
		if err = errors.Join(err, w.Flush(), f.Close()); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	fmt.Fprintf(e.stdout, "wrote %d members, %d orders and refunds, %d observations to %s\n", n, nOrders, nObs, dir)
	return nil
}

func writeMember(w *bufio.Writer, m *synth.Member) {
	var b []byte
	b = strconv.AppendUint(b, uint64(m.ID), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(m.Age), 10)
	b = append(b, ',')
	b = append(b, m.Gender.String()...)
	b = append(b, ',')
	b = append(b, m.City...)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(m.Store), 10)
	b = append(b, ',')
	b = append(b, m.Channel.String()...)
	b = append(b, ',')
	sep := false
	for _, c := range synth.AllChannels() {
		if m.Channels.Has(c) {
			if sep {
				b = append(b, '|')
			}
			b = append(b, c.String()...)
			sep = true
		}
	}
	b = append(b, ',')
	b = m.RegisteredAt.AppendFormat(b, time.RFC3339)
	b = append(b, ',')
	if m.Lapsed() {
		b = m.LapsedAt.AppendFormat(b, time.RFC3339)
	}
	b = append(b, ',')
	sep = false
	for _, c := range synth.AllConditions() {
		if m.Conditions.Has(c) {
			if sep {
				b = append(b, '|')
			}
			b = append(b, c.String()...)
			sep = true
		}
	}
	b = append(b, '\n')
	w.Write(b)
}

func writeOrder(b []byte, o *synth.Order) []byte {
	b = strconv.AppendUint(b, o.ID, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(o.Member), 10)
	b = append(b, ',')
	b = o.Time.AppendFormat(b, time.RFC3339)
	b = append(b, ',')
	b = append(b, o.Channel.String()...)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(o.Store), 10)
	b = append(b, ',')
	b = appendYuan(b, o.Amount)
	b = append(b, ',')
	if o.IsRefund() {
		b = strconv.AppendUint(b, o.RefundOf, 10)
	}
	return append(b, '\n')
}

// appendYuan writes fen as a decimal number of yuan: 2933 → 29.33,
// -5 → -0.05.
func appendYuan(b []byte, fen int64) []byte {
	if fen < 0 {
		b = append(b, '-')
		fen = -fen
	}
	b = strconv.AppendInt(b, fen/100, 10)
	b = append(b, '.')
	return append(b, byte('0'+fen%100/10), byte('0'+fen%10))
}
