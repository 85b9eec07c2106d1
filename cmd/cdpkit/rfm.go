package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cdpkit/cdpkit/rfm"
)

func init() {
	register(&command{
		name:    "rfm",
		summary: "score a transaction file: R, F, M, scores and named segments per member",
		usage:   "[flags] FILE",
		help: `
Reads a transaction file (see README, "File formats") and writes one CSV
row per member who bought in the window, in order of first appearance:

  member,first,last,recency,orders,days,monetary,r,f,m,rfm,segment,class

first and last are purchase days, recency is days from the last purchase
to the as-of day, monetary is net spend in currency units (or per
purchase with --monetary mean), r/f/m are scores 1..bins (R high =
recent), segment is the R×F grid name (5 bins only) and class the
Chinese eight-class name (重要价值 …). With --json, one JSON object per
line with the same keys.

The as-of day defaults to the day of the latest transaction; it is
included whole. Bad rows are reported on standard error with file:line
and skipped.`,
		flags: func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var tf txFlags
			tf.register(fs)
			asOf := fs.String("as-of", "", "as-of day YYYY-MM-DD, included (default: the latest transaction's day)")
			from := fs.String("from", "", "window start day YYYY-MM-DD (default: all history)")
			bins := fs.Int("bins", 5, "number of score bins")
			method := fs.String("method", "rank", "scoring: rank (NTILE, ties by order of first appearance), value (ties kept together) or thresholds")
			rth := fs.String("r-thresholds", "", "for --method thresholds: bins-1 ascending recency cut points in days, e.g. 30,90,180,365")
			fth := fs.String("f-thresholds", "", "for --method thresholds: frequency cut points, e.g. 2,3,5,8")
			mth := fs.String("m-thresholds", "", "for --method thresholds: monetary cut points in currency units, e.g. 100,300,800,2000")
			freq := fs.String("frequency", "orders", "what F counts: orders or days (distinct purchase days)")
			mon := fs.String("monetary", "total", "what M is: total (net spend) or mean (per purchase)")
			asJSON := fs.Bool("json", false, "write JSON lines instead of CSV")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want one transaction file, got %d arguments", len(args))
				}
				cfg := rfm.ScoreConfig{Bins: *bins}
				switch *method {
				case "rank":
					cfg.Method = rfm.RankQuantiles
				case "value":
					cfg.Method = rfm.ValueQuantiles
				case "thresholds":
					cfg.Method = rfm.Thresholds
					var err error
					if cfg.RThresholds, err = parseCuts("r-thresholds", *rth, false); err != nil {
						return err
					}
					if cfg.FThresholds, err = parseCuts("f-thresholds", *fth, false); err != nil {
						return err
					}
					if cfg.MThresholds, err = parseCuts("m-thresholds", *mth, true); err != nil {
						return err
					}
				default:
					return usagef("--method %q: want rank, value or thresholds", *method)
				}
				switch *freq {
				case "orders":
				case "days":
					cfg.Frequency = rfm.Days
				default:
					return usagef("--frequency %q: want orders or days", *freq)
				}
				switch *mon {
				case "total":
				case "mean":
					cfg.Monetary = rfm.Mean
				default:
					return usagef("--monetary %q: want total or mean", *mon)
				}
				d, err := loadTransactions(args[0], &tf, e.stderr)
				if err != nil {
					return err
				}
				d.summary(e.stderr)
				var start, end time.Time
				if *from != "" {
					if start, err = parseDay("from", *from, d.loc); err != nil {
						return err
					}
				}
				if *asOf != "" {
					if end, err = parseDay("as-of", *asOf, d.loc); err != nil {
						return err
					}
				}
				s, err := d.summaries(start, end)
				if err != nil {
					return err
				}
				sc, err := s.Score(&cfg)
				if errors.Is(err, rfm.ErrConfig) {
					return usagef("%v", err) // every score setting comes from a flag
				} else if err != nil {
					return err
				}
				var grid *rfm.Segments
				if cfg.Bins == 5 || cfg.Bins == 0 {
					if grid, err = rfm.Grid().Assign(sc); err != nil {
						return err
					}
				}
				classes := s.Classes(cfg.Frequency, cfg.Monetary)
				money := s.Monetary(cfg.Monetary, cfg.Frequency)
				return writeScores(e, *asJSON, d, s, sc, grid, classes, money)
			}
		},
	})
}

// parseCuts reads comma-separated cut points; money ones are decimals in
// currency units.
func parseCuts(name, s string, money bool) ([]int64, error) {
	if s == "" {
		return nil, usagef("--method thresholds needs --%s", name)
	}
	var out []int64
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		var v int64
		var err error
		if money {
			v, err = parseAmount(p)
		} else {
			v, err = strconv.ParseInt(p, 10, 64)
		}
		if err != nil {
			return nil, usagef("--%s: %q is not a number", name, p)
		}
		out = append(out, v)
	}
	return out, nil
}

// formatMoney writes minor units as a decimal in currency units.
func formatMoney(v int64) string {
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", -u
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

func writeScores(e *env, asJSON bool, d *txData, s *rfm.Summaries, sc *rfm.Scores, grid, classes *rfm.Segments, money []int64) error {
	header := []string{"member", "first", "last", "recency", "orders", "days", "monetary", "r", "f", "m", "rfm", "segment", "class"}
	cw := csv.NewWriter(e.stdout)
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	if !asJSON {
		if err := cw.Write(header); err != nil {
			return err
		}
	}
	for id := range uint32(s.Len()) {
		sum := s.Member(id)
		if sum.Orders == 0 {
			continue
		}
		r, f, m := sc.Cell(id)
		seg := ""
		if grid != nil {
			seg = grid.Name(id)
		}
		if asJSON {
			obj := struct {
				Member   string `json:"member"`
				First    string `json:"first"`
				Last     string `json:"last"`
				Recency  int    `json:"recency"`
				Orders   int    `json:"orders"`
				Days     int    `json:"days"`
				Monetary string `json:"monetary"`
				R        int    `json:"r"`
				F        int    `json:"f"`
				M        int    `json:"m"`
				RFM      string `json:"rfm"`
				Segment  string `json:"segment,omitempty"`
				Class    string `json:"class"`
			}{d.ids[id], sum.First.Format("2006-01-02"), sum.Last.Format("2006-01-02"), sum.Recency, sum.Orders, sum.Days,
				formatMoney(money[id]), r, f, m, sc.Code(id), seg, classes.Name(id)}
			if err := enc.Encode(obj); err != nil {
				return err
			}
			continue
		}
		if err := cw.Write([]string{d.ids[id], sum.First.Format("2006-01-02"), sum.Last.Format("2006-01-02"),
			strconv.Itoa(sum.Recency), strconv.Itoa(sum.Orders), strconv.Itoa(sum.Days), formatMoney(money[id]),
			strconv.Itoa(r), strconv.Itoa(f), strconv.Itoa(m), sc.Code(id), seg, classes.Name(id)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
