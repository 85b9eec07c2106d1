package suite

import "github.com/cdpkit/cdpkit/bench/harness"

// tagsCdpkit is cdpkit's side of the tags suite.
type tagsCdpkit struct{}

// newTagsCdpkit returns nil while the tags package is not on main.
func newTagsCdpkit() *tagsCdpkit { return nil }

func (c *tagsCdpkit) ruleImpl(d *tagData) harness.Impl { return harness.Impl{Name: harness.Reference} }
