//go:build !purego

package segment

import "golang.org/x/sys/cpu"

func haveSIMD() bool { return cpu.X86.HasAVX2 }

// stepGroupsSIMD is stepGroupsMasked in AVX2 assembly: each group's eight
// words are two 256-bit lanes, so a step of both tracks is about twenty
// instructions per group instead of a hundred.
//
//go:noescape
func stepGroupsSIMD(ea, eb, x, in *block, live uint64, m *[4]uint64) (la, lb uint64)

// stepGroupSIMD is stepGroupsSIMD for one track, with its masks in m.
//
//go:noescape
func stepGroupSIMD(e, x, in *block, live uint64, m *[2]uint64) uint64
