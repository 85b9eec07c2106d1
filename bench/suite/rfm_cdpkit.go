package suite

import "github.com/cdpkit/cdpkit/bench/harness"

// rfmCdpkit is cdpkit's side of the rfm suite.
type rfmCdpkit struct{}

// newRFMCdpkit returns nil while the rfm package is not on main.
func newRFMCdpkit() *rfmCdpkit { return nil }

func (c *rfmCdpkit) scoresImpl(d *rfmData) harness.Impl { return harness.Impl{Name: harness.Reference} }
