package suite

import "github.com/cdpkit/cdpkit/bench/harness"

// idCdpkit is cdpkit's side of the identity suite.
type idCdpkit struct{}

// newIDCdpkit returns nil while the identity package is not on main.
func newIDCdpkit() *idCdpkit { return nil }

func (c *idCdpkit) resolveImpl(d *idData) harness.Impl { return harness.Impl{Name: harness.Reference} }
