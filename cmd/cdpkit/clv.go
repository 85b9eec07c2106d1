package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/cdpkit/cdpkit/rfm"
)

// clvFlags are shared by clv fit and clv predict.
type clvFlags struct {
	tx      txFlags
	calEnd  string
	unit    string
	noSpend bool
}

func (f *clvFlags) register(fs *flag.FlagSet) {
	f.tx.register(fs)
	fs.StringVar(&f.calEnd, "calibration-end", "", "last day of the calibration period YYYY-MM-DD, included (default: the latest transaction's day)")
	fs.StringVar(&f.unit, "unit", "week", "time unit of the models: week or day")
	fs.BoolVar(&f.noSpend, "no-spend", false, "fit BG/NBD only, not Gamma-Gamma")
}

// fitResult is what clv fit prints with --json, and what clv predict
// reads with --model.
type fitResult struct {
	Model         string      `json:"model"`
	Unit          string      `json:"unit"`
	Params        bgnbdParams `json:"params"`
	LogLikelihood float64     `json:"log_likelihood"`
	Customers     int         `json:"customers"`
	GammaGamma    *ggResult   `json:"gamma_gamma,omitempty"`
}

type bgnbdParams struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

type ggResult struct {
	P             float64 `json:"p"`
	Q             float64 `json:"q"`
	Gamma         float64 `json:"gamma"`
	LogLikelihood float64 `json:"log_likelihood"`
	Customers     int     `json:"customers"`
}

// histories reads the file and returns the calibration histories, with
// spend in currency units.
func (f *clvFlags) histories(e *env, path string) (*txData, *rfm.Histories, error) {
	unit := rfm.Week
	switch f.unit {
	case "week":
	case "day":
		unit = rfm.Day
	default:
		return nil, nil, usagef("--unit %q: want week or day", f.unit)
	}
	d, err := loadTransactions(path, &f.tx, e.stderr)
	if err != nil {
		return nil, nil, err
	}
	d.summary(e.stderr)
	var end time.Time
	if f.calEnd != "" {
		if end, err = parseDay("calibration-end", f.calEnd, d.loc); err != nil {
			return nil, nil, err
		}
	}
	s, err := d.summaries(time.Time{}, end)
	if err != nil {
		return nil, nil, err
	}
	h := s.Histories(rfm.HistoryOptions{Unit: unit, SpendScale: 100})
	if h.Len() == 0 {
		return nil, nil, fmt.Errorf("%s: no purchases up to the calibration end", path)
	}
	return d, h, nil
}

func (f *clvFlags) fit(ctx context.Context, h *rfm.Histories) (*fitResult, error) {
	p, fr, err := rfm.FitBGNBD(ctx, h)
	if err != nil {
		return nil, err
	}
	res := &fitResult{Model: "bgnbd", Unit: f.unit, Params: bgnbdParams{p.R, p.Alpha, p.A, p.B},
		LogLikelihood: fr.LogLikelihood, Customers: fr.Customers}
	if f.noSpend {
		return res, nil
	}
	g, gr, err := rfm.FitGammaGamma(ctx, h)
	switch {
	case errors.Is(err, rfm.ErrNoData):
		return res, nil // no repeat buyers: no spend model
	case err != nil:
		return nil, err
	}
	res.GammaGamma = &ggResult{P: g.P, Q: g.Q, Gamma: g.Gamma, LogLikelihood: gr.LogLikelihood, Customers: gr.Customers}
	return res, nil
}

func init() {
	register(&command{
		name:    "clv fit",
		summary: "fit BG/NBD and Gamma-Gamma lifetime-value models on a transaction file",
		usage:   "[flags] FILE",
		help: `
Fits the BG/NBD model (Fader, Hardie & Lee 2005) of repeat purchases by
maximum likelihood on the purchases up to --calibration-end, and the
Gamma-Gamma model of spend per purchase on the repeat buyers, and prints
the parameters and log-likelihoods. Purchases are distinct purchase
days; time is in --unit; spend is in currency units.

For CDNOW_sample.txt (no header; master_id sample_id yyyymmdd cds dollars):

  cdpkit clv fit --format text --member-col 2 --time-col 3 --amount-col 5 \
    --time-layout 20060102 --calibration-end 1997-09-30 CDNOW_sample.txt

With --json, one object:
{"model":"bgnbd","unit":"week","params":{"r":…,"alpha":…,"a":…,"b":…},
 "log_likelihood":…,"customers":…,
 "gamma_gamma":{"p":…,"q":…,"gamma":…,"log_likelihood":…,"customers":…}}`,
		flags: func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var f clvFlags
			f.register(fs)
			asJSON := fs.Bool("json", false, "print one JSON object")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want one transaction file, got %d arguments", len(args))
				}
				_, h, err := f.histories(e, args[0])
				if err != nil {
					return err
				}
				res, err := f.fit(ctx, h)
				if err != nil {
					return err
				}
				if *asJSON {
					return json.NewEncoder(e.stdout).Encode(res)
				}
				return printFit(e.stdout, res)
			}
		},
	})
	register(&command{
		name:    "clv predict",
		summary: "write per-member P(alive), expected purchases, spend and CLV",
		usage:   "[flags] FILE",
		help: `
Fits the models as clv fit does (or reads them from --model, the output
of clv fit --json) and writes one CSV row per member who bought up to
the calibration end:

  member,p_alive,expected_purchases,expected_spend,clv

expected_purchases are those expected within --horizon (in --unit),
expected_spend is the expected spend per purchase (Gamma-Gamma, currency
units) and clv the value of the expected purchases, discounted at
--discount-rate per step over --steps equal steps of the horizon. With
--json, one object per line with the same keys.`,
		flags: func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			var f clvFlags
			f.register(fs)
			horizon := fs.Float64("horizon", 0, "prediction horizon in --unit (required)")
			rate := fs.Float64("discount-rate", 0, "discount rate per step, e.g. 0.01")
			steps := fs.Int("steps", 12, "discounting steps over the horizon")
			model := fs.String("model", "", "JSON from clv fit --json to use instead of fitting")
			asJSON := fs.Bool("json", false, "write JSON lines instead of CSV")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want one transaction file, got %d arguments", len(args))
				}
				if !(*horizon > 0) {
					return usagef("--horizon must be a positive number of %ss", f.unit)
				}
				if *steps < 1 || *rate <= -1 {
					return usagef("--steps must be at least 1 and --discount-rate above -1")
				}
				var res *fitResult
				if *model != "" {
					var err error
					if res, err = readModel(*model); err != nil {
						return err
					}
					if res.Unit != "" && res.Unit != f.unit {
						return usagef("--model was fitted in %ss, --unit is %s", res.Unit, f.unit)
					}
				}
				d, h, err := f.histories(e, args[0])
				if err != nil {
					return err
				}
				if res == nil {
					if res, err = f.fit(ctx, h); err != nil {
						return err
					}
				}
				m := rfm.Model{Purchases: rfm.BGNBD{R: res.Params.R, Alpha: res.Params.Alpha, A: res.Params.A, B: res.Params.B}}
				if g := res.GammaGamma; g != nil && !f.noSpend {
					m.Spend = &rfm.GammaGamma{P: g.P, Q: g.Q, Gamma: g.Gamma}
				}
				preds, err := m.PredictAll(ctx, h, rfm.ValueOptions{Horizon: *horizon, Steps: *steps, Rate: *rate})
				if err != nil {
					return err
				}
				return writePredictions(e.stdout, *asJSON, d, h, preds)
			}
		},
	})
}

func readModel(path string) (*fitResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res fitResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p := res.Params
	if res.Model != "bgnbd" || !(p.R > 0 && p.Alpha > 0 && p.A > 0 && p.B > 0) {
		return nil, fmt.Errorf("%s: not a bgnbd model with positive r, alpha, a, b", path)
	}
	if g := res.GammaGamma; g != nil && !(g.P > 0 && g.Q > 0 && g.Gamma > 0) {
		return nil, fmt.Errorf("%s: gamma_gamma needs positive p, q, gamma", path)
	}
	return &res, nil
}

func printFit(w io.Writer, res *fitResult) error {
	p := res.Params
	_, err := fmt.Fprintf(w, "BG/NBD on %d customers, time in %ss\n  r      %.4f\n  alpha  %.4f\n  a      %.4f\n  b      %.4f\n  log-likelihood %.2f\n",
		res.Customers, res.Unit, p.R, p.Alpha, p.A, p.B, res.LogLikelihood)
	if err != nil || res.GammaGamma == nil {
		return err
	}
	g := res.GammaGamma
	_, err = fmt.Fprintf(w, "Gamma-Gamma on %d repeat buyers, spend in currency units\n  p      %.4f\n  q      %.4f\n  gamma  %.4f\n  log-likelihood %.2f\n",
		g.Customers, g.P, g.Q, g.Gamma, g.LogLikelihood)
	return err
}

func writePredictions(w io.Writer, asJSON bool, d *txData, h *rfm.Histories, preds []rfm.Prediction) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for i, p := range preds {
			obj := struct {
				Member            string   `json:"member"`
				PAlive            float64  `json:"p_alive"`
				ExpectedPurchases float64  `json:"expected_purchases"`
				ExpectedSpend     *float64 `json:"expected_spend"`
				CLV               *float64 `json:"clv"`
			}{d.ids[h.Member[i]], p.PAlive, p.ExpectedPurchases, finite(p.ExpectedSpend), finite(p.CLV)}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"member", "p_alive", "expected_purchases", "expected_spend", "clv"}); err != nil {
		return err
	}
	ff := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', 6, 64)
	}
	for i, p := range preds {
		if err := cw.Write([]string{d.ids[h.Member[i]], ff(&p.PAlive), ff(&p.ExpectedPurchases), ff(finite(p.ExpectedSpend)), ff(finite(p.CLV))}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// finite returns v, or nil (an empty CSV field, JSON null) for the
// infinite mean spend of a Gamma-Gamma fit with q <= 1, which has no
// finite expectation.
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}
