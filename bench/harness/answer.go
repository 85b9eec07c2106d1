package harness

import (
	"fmt"
	"slices"
)

// Answer is what one run of an implementation found, in a form every
// implementation of the same case can produce, so that peers are checked
// against cdpkit before their times are believed.
//
// Count is always compared. The other fields are compared when the
// reference answer sets them (non-nil):
//
//   - Members is a set of member IDs in increasing order (an audience, the
//     members a rule matched).
//   - Values holds one value per position (a score per member, a balance per
//     account); positions and values must agree exactly.
//   - Partition gives each item a group label (the person each observation
//     resolved to); two partitions are equal when they group the items the
//     same way, whatever the labels.
type Answer struct {
	Count     int64
	Members   []uint32
	Values    []int64
	Partition []uint32
}

// Check returns nil when got equals want in every field that want sets,
// else an error naming the first difference.
func Check(want, got Answer) error {
	if want.Count != got.Count {
		return fmt.Errorf("count %d, want %d", got.Count, want.Count)
	}
	if want.Members != nil {
		if err := sameSet(want.Members, got.Members); err != nil {
			return err
		}
	}
	if want.Values != nil {
		if err := sameValues(want.Values, got.Values); err != nil {
			return err
		}
	}
	if want.Partition != nil {
		if err := samePartition(want.Partition, got.Partition); err != nil {
			return err
		}
	}
	return nil
}

func sameSet(want, got []uint32) error {
	if got == nil {
		return fmt.Errorf("no member list, want %d members", len(want))
	}
	if !slices.IsSorted(got) {
		return fmt.Errorf("member list is not in increasing order")
	}
	i, j := 0, 0
	for i < len(want) && j < len(got) {
		switch {
		case want[i] == got[j]:
			i++
			j++
		case want[i] < got[j]:
			return fmt.Errorf("member %d missing (%d members, want %d)", want[i], len(got), len(want))
		default:
			return fmt.Errorf("member %d not expected (%d members, want %d)", got[j], len(got), len(want))
		}
	}
	if i < len(want) {
		return fmt.Errorf("member %d missing (%d members, want %d)", want[i], len(got), len(want))
	}
	if j < len(got) {
		return fmt.Errorf("member %d not expected (%d members, want %d)", got[j], len(got), len(want))
	}
	return nil
}

func sameValues(want, got []int64) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Errorf("value %d is %d, want %d", i, got[i], want[i])
		}
	}
	return nil
}

// samePartition compares two labellings item by item through a bijection
// between their labels, built as it goes: a label of want must always meet
// the same label of got and the other way round.
func samePartition(want, got []uint32) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d items partitioned, want %d", len(got), len(want))
	}
	fwd, back := newLabelIndex(want), newLabelIndex(got)
	for i := range want {
		a, b := want[i], got[i]
		fi, okF := fwd.get(a)
		if okF && got[fi] != b {
			return fmt.Errorf("items %d and %d are apart, want them in one group", fi, i)
		}
		bi, okB := back.get(b)
		if okB && want[bi] != a {
			return fmt.Errorf("items %d and %d are in one group, want them apart", bi, i)
		}
		if !okF {
			fwd.set(a, i)
		}
		if !okB {
			back.set(b, i)
		}
	}
	return nil
}

// labelIndex maps a group label to the first item that carries it: a slice
// when labels are small (person IDs, item indexes), a map otherwise.
type labelIndex struct {
	dense  []int32
	sparse map[uint32]int
}

func newLabelIndex(labels []uint32) *labelIndex {
	hi := uint32(0)
	for _, l := range labels {
		hi = max(hi, l)
	}
	if int64(hi) < 4*int64(len(labels))+1024 && len(labels) < 1<<31-1 {
		d := make([]int32, int(hi)+1)
		for i := range d {
			d[i] = -1
		}
		return &labelIndex{dense: d}
	}
	return &labelIndex{sparse: make(map[uint32]int)}
}

func (x *labelIndex) get(l uint32) (int, bool) {
	if x.dense != nil {
		i := x.dense[l]
		return int(i), i >= 0
	}
	i, ok := x.sparse[l]
	return i, ok
}

func (x *labelIndex) set(l uint32, i int) {
	if x.dense != nil {
		x.dense[l] = int32(i)
		return
	}
	x.sparse[l] = i
}
