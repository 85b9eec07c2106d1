//go:build !purego

#include "textflag.h"

// func stepGroupsSIMD(ea, eb, x, in *block, live uint64, m *[4]uint64) (la, lb uint64)
//
// For each group g set in live (8 words at byte offset g*64), for tracks
// A (ea; masks m[0] bit, m[1] emit) and B (eb; m[2], m[3]):
//	d = x ^ bit; in |= e & d & emit; e &^= d
// and clears g from la (lb) when A's (B's) words of the group end up zero.
TEXT ·stepGroupsSIMD(SB), NOSPLIT, $0-64
	MOVQ ea+0(FP), AX
	MOVQ eb+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ in+24(FP), DI
	MOVQ live+32(FP), DX
	MOVQ m+40(FP), R8
	VPBROADCASTQ 0(R8), Y12  // A's bound bit
	VPBROADCASTQ 8(R8), Y13  // A's emit mask
	VPBROADCASTQ 16(R8), Y14 // B's bound bit
	VPBROADCASTQ 24(R8), Y15 // B's emit mask
	MOVQ DX, R9              // la
	MOVQ DX, R10             // lb

loop:
	TESTQ DX, DX
	JZ    done
	BSFQ  DX, CX   // g
	LEAQ  -1(DX), R11
	ANDQ  R11, DX  // drop g from the walk
	MOVQ  CX, R11
	SHLQ  $6, R11  // byte offset of the group

	// Words 0-3 of the group.
	VMOVDQU (SI)(R11*1), Y0  // plane
	VPXOR   Y0, Y12, Y1      // dA = p ^ bitA
	VPXOR   Y0, Y14, Y2      // dB = p ^ bitB
	VMOVDQU (AX)(R11*1), Y3  // a
	VMOVDQU (BX)(R11*1), Y4  // b
	VPAND   Y3, Y1, Y5       // a & dA: leaving A
	VPANDN  Y3, Y1, Y3       // a &^ dA
	VPAND   Y4, Y2, Y6       // b & dB: leaving B
	VPANDN  Y4, Y2, Y4       // b &^ dB
	VPAND   Y5, Y13, Y5
	VPAND   Y6, Y15, Y6
	VPOR    Y5, Y6, Y5
	VPOR    (DI)(R11*1), Y5, Y5
	VMOVDQU Y5, (DI)(R11*1)
	VMOVDQU Y3, (AX)(R11*1)
	VMOVDQU Y4, (BX)(R11*1)

	// Words 4-7.
	VMOVDQU 32(SI)(R11*1), Y0
	VPXOR   Y0, Y12, Y1
	VPXOR   Y0, Y14, Y2
	VMOVDQU 32(AX)(R11*1), Y7
	VMOVDQU 32(BX)(R11*1), Y8
	VPAND   Y7, Y1, Y5
	VPANDN  Y7, Y1, Y7
	VPAND   Y8, Y2, Y6
	VPANDN  Y8, Y2, Y8
	VPAND   Y5, Y13, Y5
	VPAND   Y6, Y15, Y6
	VPOR    Y5, Y6, Y5
	VPOR    32(DI)(R11*1), Y5, Y5
	VMOVDQU Y5, 32(DI)(R11*1)
	VMOVDQU Y7, 32(AX)(R11*1)
	VMOVDQU Y8, 32(BX)(R11*1)

	// Drop the group from a track whose words are now all zero.
	VPOR    Y3, Y7, Y3
	VPOR    Y4, Y8, Y4
	VPTEST  Y3, Y3
	SETEQ   R12
	MOVBQZX R12, R12
	SHLQ    CX, R12
	NOTQ    R12
	ANDQ    R12, R9
	VPTEST  Y4, Y4
	SETEQ   R13
	MOVBQZX R13, R13
	SHLQ    CX, R13
	NOTQ    R13
	ANDQ    R13, R10
	JMP     loop

done:
	VZEROUPPER
	MOVQ R9, la+48(FP)
	MOVQ R10, lb+56(FP)
	RET

// func stepGroupSIMD(e, x, in *block, live uint64, m *[2]uint64) uint64
//
// stepGroupsSIMD for one track (masks m[0] bit, m[1] emit).
TEXT ·stepGroupSIMD(SB), NOSPLIT, $0-48
	MOVQ e+0(FP), AX
	MOVQ x+8(FP), SI
	MOVQ in+16(FP), DI
	MOVQ live+24(FP), DX
	MOVQ m+32(FP), R8
	VPBROADCASTQ 0(R8), Y12 // bound bit
	VPBROADCASTQ 8(R8), Y13 // emit mask
	MOVQ DX, R9             // groups left

loop1:
	TESTQ DX, DX
	JZ    done1
	BSFQ  DX, CX
	LEAQ  -1(DX), R11
	ANDQ  R11, DX
	MOVQ  CX, R11
	SHLQ  $6, R11

	VMOVDQU (SI)(R11*1), Y0
	VMOVDQU 32(SI)(R11*1), Y1
	VPXOR   Y0, Y12, Y0          // d = p ^ bit
	VPXOR   Y1, Y12, Y1
	VMOVDQU (AX)(R11*1), Y3
	VMOVDQU 32(AX)(R11*1), Y4
	VPAND   Y3, Y0, Y5           // e & d: leaving
	VPAND   Y4, Y1, Y6
	VPANDN  Y3, Y0, Y3           // e &^ d
	VPANDN  Y4, Y1, Y4
	VPAND   Y5, Y13, Y5
	VPAND   Y6, Y13, Y6
	VPOR    (DI)(R11*1), Y5, Y5
	VPOR    32(DI)(R11*1), Y6, Y6
	VMOVDQU Y5, (DI)(R11*1)
	VMOVDQU Y6, 32(DI)(R11*1)
	VMOVDQU Y3, (AX)(R11*1)
	VMOVDQU Y4, 32(AX)(R11*1)

	VPOR    Y3, Y4, Y3
	VPTEST  Y3, Y3
	SETEQ   R12
	MOVBQZX R12, R12
	SHLQ    CX, R12
	NOTQ    R12
	ANDQ    R12, R9
	JMP     loop1

done1:
	VZEROUPPER
	MOVQ R9, ret+40(FP)
	RET
