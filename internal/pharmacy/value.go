package pharmacy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cdpkit/cdpkit/rfm"
)

// value scores the buyers: RFM scores and the R×F grid, the BG/NBD and
// Gamma-Gamma fits, every buyer's P(alive) and expected value, and the
// repurchase timing behind the refill and pre-dormant tags.
func (s *story) value(ctx context.Context) (string, error) {
	sc, err := s.sum.Score(&rfm.ScoreConfig{})
	if err != nil {
		return "", err
	}
	grid := rfm.Grid()
	segs, err := grid.Assign(sc)
	if err != nil {
		return "", err
	}
	r := &s.rep.RFM
	r.Buyers = s.sum.Buyers()
	for m := range sc.Len() {
		if rs, fs, _ := sc.Cell(uint32(m)); rs > 0 {
			r.Grid[5-rs][fs-1]++
		}
	}
	for i := range 5 {
		for j := range 5 {
			r.Names[i][j] = grid.Name(5-i, j+1, 1)
		}
	}
	for i, n := range segs.Count() {
		r.Segments = append(r.Segments, NameCount{segs.Names[i], n})
	}
	slices.SortStableFunc(r.Segments, func(a, b NameCount) int { return cmp.Compare(b.Count, a.Count) })
	s.scores, s.segs = sc, segs

	h := s.sum.Histories(rfm.HistoryOptions{Unit: rfm.Week, SpendScale: 100})
	bg, fit, err := rfm.FitBGNBD(ctx, h)
	if err != nil && !errors.Is(err, rfm.ErrNotConverged) {
		return "", fmt.Errorf("fit BG/NBD: %w", err)
	}
	gg, _, err := rfm.FitGammaGamma(ctx, h)
	if err != nil && !errors.Is(err, rfm.ErrNotConverged) {
		return "", fmt.Errorf("fit Gamma-Gamma: %w", err)
	}
	s.model = rfm.Model{Purchases: bg, Spend: &gg}
	preds, err := s.model.PredictAll(ctx, h, rfm.ValueOptions{Horizon: 52, Steps: 4, Rate: 0.03})
	if err != nil {
		return "", err
	}
	v := &s.rep.CLV
	v.R, v.Alpha, v.A, v.B = bg.R, bg.Alpha, bg.A, bg.B
	v.P, v.Q, v.Gamma = gg.P, gg.Q, gg.Gamma
	v.LogLikelihood, v.Customers, v.Histories = fit.LogLikelihood, fit.Customers, fit.Rows
	s.pAlive = make([]float64, s.sum.Len())
	for i := range s.pAlive {
		s.pAlive[i] = math.NaN()
	}
	var total float64
	for i, p := range preds {
		s.pAlive[h.Member[i]] = p.PAlive
		total += p.PAlive
		v.Value += p.CLV
		for b, lo := range PAliveBands {
			if p.PAlive >= lo {
				v.PAlive[b]++
				break
			}
		}
	}
	v.MeanPAlive = total / float64(max(len(preds), 1))
	s.rp = s.sum.Repurchase(rfm.RepurchaseOptions{})
	return fmt.Sprintf("score %s buyers: RFM grid, BG/NBD + Gamma-Gamma fit on %s histories, P(alive) and 52-week value, refill due dates",
		thousands(r.Buyers), thousands(fit.Rows)), nil
}
