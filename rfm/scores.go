package rfm

import "fmt"

// ScoreConfig configures Score. The zero value scores into 5 bins by
// RankQuantiles, with F = orders and M = net total spend.
type ScoreConfig struct {
	Bins      int // 1..255; 0 means 5
	Method    Method
	Frequency Frequency
	Monetary  Monetary
	// RThresholds, FThresholds and MThresholds are the cut points for
	// Method Thresholds (Bins-1 ascending values each): recency in days,
	// frequency in purchases, monetary in minor units. See Thresholds.
	RThresholds, FThresholds, MThresholds []int64
}

// Scores are per-member R, F and M scores 1..Bins (R high = recent); 0 for
// a member with no purchase in the window. A Scores is not modified after
// Score returns it and may be read concurrently.
type Scores struct {
	Bins    int
	R, F, M []uint8
}

// Score bins every buyer's recency (reversed: recent scores high),
// frequency and monetary value. Cost: O(members) per dimension, in
// parallel; see Bin.
func (s *Summaries) Score(cfg *ScoreConfig) (*Scores, error) {
	if cfg == nil {
		cfg = &ScoreConfig{}
	}
	bins := cfg.Bins
	if bins == 0 {
		bins = 5
	}
	sc := &Scores{Bins: bins}
	var err error
	opts := BinOptions{Bins: bins, Method: cfg.Method}
	ro := opts
	ro.Reverse, ro.Thresholds = true, cfg.RThresholds
	if sc.R, err = Bin(s.Recency(), ro); err != nil {
		return nil, fmt.Errorf("score recency: %w", err)
	}
	fo := opts
	fo.Thresholds = cfg.FThresholds
	if sc.F, err = Bin(s.Frequency(cfg.Frequency), fo); err != nil {
		return nil, fmt.Errorf("score frequency: %w", err)
	}
	mo := opts
	mo.Thresholds = cfg.MThresholds
	if sc.M, err = Bin(s.Monetary(cfg.Monetary, cfg.Frequency), mo); err != nil {
		return nil, fmt.Errorf("score monetary: %w", err)
	}
	return sc, nil
}

// Len returns the number of members scored (buyers and non-buyers).
func (sc *Scores) Len() int { return len(sc.R) }

// Cell returns member m's scores; all 0 for a member without purchases or
// past Len.
func (sc *Scores) Cell(m uint32) (r, f, mon int) {
	if uint64(m) >= uint64(len(sc.R)) {
		return 0, 0, 0
	}
	return int(sc.R[m]), int(sc.F[m]), int(sc.M[m])
}

// Code returns member m's scores as the three-digit code RFM tools print
// ("545" for R=5, F=4, M=5), or "" without scores. With more than 9 bins
// the scores are separated by dashes ("12-3-10").
func (sc *Scores) Code(m uint32) string {
	r, f, mon := sc.Cell(m)
	if r == 0 {
		return ""
	}
	if sc.Bins > 9 {
		return fmt.Sprintf("%d-%d-%d", r, f, mon)
	}
	return string([]byte{byte('0' + r), byte('0' + f), byte('0' + mon)})
}
