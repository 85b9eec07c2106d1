package segment

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// Diff returns the members p matches in to but not in from (entered) and
// those it matches in from but not in to (exited): the triggers of a
// journey when from and to are successive versions of the index. Pass
// Ref(name) for a saved segment; each view resolves it by its own
// definition, so a redefinition shows up in the diff as well. The caller
// owns the returned bitmaps.
func Diff(from, to *View, p *Plan) (entered, exited *roaring.Bitmap, err error) {
	a, err := from.prepare(p)
	if err != nil {
		return nil, nil, fmt.Errorf("diff, old view: %w", err)
	}
	b, err := to.prepare(p)
	if err != nil {
		return nil, nil, fmt.Errorf("diff, new view: %w", err)
	}
	before, after := a.materialize(), b.materialize()
	minus := func(x, y *bitmap) *roaring.Bitmap {
		pr := &prepared{
			// No universe: neither operand is a negation.
			root:    optimize(&xnode{kind: xAnd, kids: []*xnode{leaf(x)}, neg: []*xnode{leaf(y)}}, &xnode{kind: xEmpty}),
			nchunks: max(x.chunks(), y.chunks()),
		}
		return pr.materialize().toRoaring()
	}
	return minus(after, before), minus(before, after), nil
}

// Arm is one group of a split, with its share given as a weight relative to
// the other arms' (90 and 10, or 9 and 1, split 90/10).
type Arm struct {
	Name   string
	Weight uint32
}

// Split assigns members to arms deterministically by a salted hash of the
// member ID alone. A member's arm therefore never changes as the audience
// grows or shrinks; different salts give independent assignments (use one
// salt per experiment); and over many members each arm's share comes within
// a fraction of a percent of its weight.
//
// A Split is immutable and safe for concurrent use.
type Split struct {
	salt  string
	seed  uint64
	arms  []Arm
	cum   []uint64 // cumulative weights
	total uint64
}

// NewSplit returns a split of the given arms under a salt. Arms need
// distinct non-empty names and positive weights.
func NewSplit(salt string, arms ...Arm) (*Split, error) {
	if len(arms) == 0 {
		return nil, fmt.Errorf("split %q: no arms: %w", salt, ErrInvalid)
	}
	s := &Split{salt: salt, seed: mix64(mix64(fnv64(salt))), arms: slices.Clone(arms)}
	seen := map[string]bool{}
	for _, a := range arms {
		switch {
		case a.Name == "":
			return nil, fmt.Errorf("split %q: arm without a name: %w", salt, ErrInvalid)
		case seen[a.Name]:
			return nil, fmt.Errorf("split %q: arm %q twice: %w", salt, a.Name, ErrInvalid)
		case a.Weight == 0:
			return nil, fmt.Errorf("split %q: arm %q has weight 0: %w", salt, a.Name, ErrInvalid)
		}
		seen[a.Name] = true
		s.total += uint64(a.Weight)
		s.cum = append(s.cum, s.total)
	}
	return s, nil
}

// Arms returns the split's arms.
func (s *Split) Arms() []Arm { return slices.Clone(s.arms) }

// Assign returns the index (into Arms) of member id's arm.
func (s *Split) Assign(id uint32) int {
	// Two rounds of the SplitMix64 finaliser over the ID offset by the
	// salt's hash: every output bit depends on every input bit, so arms
	// are uniform and salts do not correlate.
	h := mix64(mix64(uint64(id) + s.seed))
	// Map h to [0, total) without modulo bias beyond 2^-64 · total.
	x, _ := bits.Mul64(h, s.total)
	i, _ := slices.BinarySearch(s.cum, x+1)
	return i
}

// AssignName returns the name of member id's arm.
func (s *Split) AssignName(id uint32) string { return s.arms[s.Assign(id)].Name }

// mix64 is the SplitMix64 finaliser (Steele, Lea and Flood, "Fast
// Splittable Pseudorandom Number Generators", OOPSLA 2014).
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fnv64 is FNV-1a, to turn a salt into a seed.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Split divides the members p matches into s's arms; the result has one
// bitmap per arm, in the order of s.Arms(). The caller owns the bitmaps.
func (v *View) Split(p *Plan, s *Split) ([]*roaring.Bitmap, error) {
	seq, err := v.IDs(p)
	if err != nil {
		return nil, err
	}
	parts := make([][]uint32, len(s.arms))
	for id := range seq {
		i := s.Assign(id)
		parts[i] = append(parts[i], id)
	}
	out := make([]*roaring.Bitmap, len(parts))
	for i, ids := range parts {
		out[i] = roaring.New()
		out[i].AddMany(ids)
	}
	return out, nil
}
