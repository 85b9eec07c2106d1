package suite

import (
	"context"

	"github.com/cdpkit/cdpkit/bench/harness"
)

// segCdpkit is cdpkit's side of the segment suite.
type segCdpkit struct{}

// newSegCdpkit returns nil while the segment package is not on main.
func newSegCdpkit() *segCdpkit { return nil }

func (c *segCdpkit) load(ctx context.Context, env *Env, d *segData) (int64, error) { return 0, nil }

func (c *segCdpkit) countImpl(expr string) harness.Impl { return harness.Impl{Name: harness.Reference} }
