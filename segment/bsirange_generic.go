//go:build !amd64 || purego

package segment

func haveSIMD() bool { return false }

// stepGroupsSIMD stands in for the assembly kernel where there is none; it
// is never selected, since haveSIMD is false.
func stepGroupsSIMD(ea, eb, x, in *block, live uint64, m *[4]uint64) (la, lb uint64) {
	return stepGroupsMasked(ea, eb, x, in, live, m)
}

// stepGroupSIMD stands in for the one-track assembly kernel.
func stepGroupSIMD(e, x, in *block, live uint64, m *[2]uint64) uint64 {
	var zero block
	la, _ := stepGroupsMasked(e, &zero, x, in, live, &[4]uint64{m[0], m[1]})
	return la
}
