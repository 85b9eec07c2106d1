package suite

import (
	"context"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/segment"
)

// segCdpkit is cdpkit's side of the segment suite: a segment.Index loaded
// through the bulk paths and queried through plans.
type segCdpkit struct {
	ix *segment.Index
}

func newSegCdpkit() *segCdpkit { return &segCdpkit{} }

// load builds the index from the generated columns: every member in the
// universe (so negations count members without tags), a tag per boolean
// column from its bit words, spend_365d and age as bit-sliced integers.
func (c *segCdpkit) load(_ context.Context, _ *Env, d *segData) (int64, error) {
	c.ix = segment.New(nil)
	err := c.ix.Update(func(tx *segment.Tx) error {
		if err := tx.AddMemberRange(0, uint32(d.n)); err != nil {
			return err
		}
		for j, t := range segTags {
			if err := tx.Declare(t.name, segment.KindTag); err != nil {
				return err
			}
			if err := tx.ReplaceTagWords(t.name, words(d.cols[j])); err != nil {
				return err
			}
		}
		for name, col := range map[string][]int64{"spend_365d": d.spend, "age": d.age} {
			if err := tx.Declare(name, segment.KindInt); err != nil {
				return err
			}
			if err := tx.ReplaceIntColumn(name, col, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int64(c.ix.View().MemberCount()), nil
}

// held is the memory the index's bitmaps hold, by the index's own estimate.
func (c *segCdpkit) held() int64 { return int64(c.ix.View().MemoryBytes()) }

// countImpl counts the members of an audience expression, compiled once
// against the loaded index: the way a host answers "how many?" while an
// operator edits an audience.
func (c *segCdpkit) countImpl(expr string) harness.Impl {
	var p *segment.Plan
	compile := func() error {
		if p != nil {
			return nil
		}
		var err error
		p, err = segment.Compile(expr, c.ix.View())
		return err
	}
	return harness.Impl{
		Name: harness.Reference,
		Run: func(context.Context) (harness.Answer, error) {
			if err := compile(); err != nil {
				return harness.Answer{}, err
			}
			n, err := c.ix.View().Count(p)
			return harness.Answer{Count: int64(n)}, err
		},
		Full: func(context.Context) (harness.Answer, error) {
			if err := compile(); err != nil {
				return harness.Answer{}, err
			}
			bm, err := c.ix.View().Bitmap(p)
			if err != nil {
				return harness.Answer{}, err
			}
			ids := slices.Collect(roaring.Values(bm))
			if ids == nil {
				ids = []uint32{}
			}
			return harness.Answer{Count: int64(len(ids)), Members: ids}, nil
		},
	}
}
