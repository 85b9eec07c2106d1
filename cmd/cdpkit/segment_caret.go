package main

import (
	"strings"
	"unicode/utf8"
)

// caretLines renders one line of source with a caret under a 1-based
// column counted in characters (code points), as cel-go and segment count
// them. Tabs are kept so the caret lines up in a terminal, and East Asian
// wide characters take two cells, so an expression naming 慢病:糖尿病
// still gets its caret under the right character.
func caretLines(src string, col int) string {
	src = strings.TrimRight(src, "\r\n")
	var pad strings.Builder
	i := 1
	for _, r := range src {
		if i >= col {
			break
		}
		switch {
		case r == '\t':
			pad.WriteByte('\t')
		case wideRune(r):
			pad.WriteString("  ")
		default:
			pad.WriteByte(' ')
		}
		i++
	}
	for ; i < col; i++ { // a column past the end points just after it
		pad.WriteByte(' ')
	}
	return "  " + src + "\n  " + pad.String() + "^"
}

// sourceLine returns line n (1-based) of src, or "" when there is none.
func sourceLine(src string, n int) string {
	for i, l := range strings.Split(src, "\n") {
		if i+1 == n {
			return l
		}
	}
	return ""
}

// wideRune reports whether r takes two cells in a terminal: the East Asian
// Wide and Fullwidth blocks of Unicode's EastAsianWidth.txt, coarsely.
func wideRune(r rune) bool {
	if r < 0x1100 || r == utf8.RuneError {
		return false
	}
	switch {
	case r <= 0x115F, // Hangul Jamo
		r >= 0x2E80 && r <= 0x303E, // CJK radicals, punctuation
		r >= 0x3041 && r <= 0x33FF, // kana, CJK compatibility
		r >= 0x3400 && r <= 0x4DBF, // CJK extension A
		r >= 0x4E00 && r <= 0x9FFF, // CJK unified ideographs
		r >= 0xA000 && r <= 0xA4CF, // Yi
		r >= 0xAC00 && r <= 0xD7A3, // Hangul syllables
		r >= 0xF900 && r <= 0xFAFF, // CJK compatibility ideographs
		r >= 0xFE30 && r <= 0xFE4F, // CJK compatibility forms
		r >= 0xFF00 && r <= 0xFF60, // fullwidth forms
		r >= 0xFFE0 && r <= 0xFFE6,
		r >= 0x1F300 && r <= 0x1F64F, // pictographs, emoticons
		r >= 0x20000 && r <= 0x3FFFD: // CJK extensions B and later
		return true
	}
	return false
}
