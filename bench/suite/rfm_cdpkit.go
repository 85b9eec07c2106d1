package suite

import (
	"context"
	"fmt"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/rfm"
)

// rfmScores is cdpkit's side of rfm_scores: summaries built from the
// transactions in columns (rfm.Batch, the package's bulk path) and scored
// with the default configuration, 5 bins by rank. It allocates fresh
// Summaries on each run, since scoring from scratch is the work DuckDB does.
func rfmScores(ctx context.Context, d *rfmData) (*rfm.Scores, error) {
	s, err := rfm.New(d.members, rfm.Config{Location: d.loc, AsOf: d.asOf})
	if err != nil {
		return nil, err
	}
	b := &rfm.Batch{Member: d.member, Time: d.unix, Amount: d.amount, RefundOf: d.refundOf}
	if err := s.AddBatch(ctx, b); err != nil {
		return nil, err
	}
	return s.Score(&rfm.ScoreConfig{})
}

func rfmCdpkitImpl(d *rfmData) harness.Impl {
	return harness.Impl{
		Name: harness.Reference,
		Run: func(ctx context.Context) (harness.Answer, error) {
			sc, err := rfmScores(ctx, d)
			if err != nil {
				return harness.Answer{}, err
			}
			return harness.Answer{Count: int64(scored(sc))}, nil
		},
		Full: func(ctx context.Context) (harness.Answer, error) {
			sc, err := rfmScores(ctx, d)
			if err != nil {
				return harness.Answer{}, err
			}
			if sc.Len() != d.members {
				return harness.Answer{}, fmt.Errorf("scores for %d members, want %d", sc.Len(), d.members)
			}
			ans := harness.Answer{Count: int64(scored(sc)), Values: make([]int64, d.members)}
			for m := range ans.Values {
				r, f, mon := sc.Cell(uint32(m))
				ans.Values[m] = rfmCode(r, f, mon)
			}
			return ans, nil
		},
	}
}

// scored counts the members with scores: the buyers in the window.
func scored(sc *rfm.Scores) int {
	n := 0
	for _, r := range sc.R {
		if r != 0 {
			n++
		}
	}
	return n
}
