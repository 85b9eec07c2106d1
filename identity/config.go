package identity

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Defaults for the per-person caps. A real customer of a chain rarely holds
// more than twenty identifiers or has more than a handful of profiles
// merged; a person far above these is almost always glued together by a
// shared identifier the rules did not catch.
const (
	DefaultMaxIdentifiers = 100
	DefaultMaxMerges      = 50
)

// Hard bounds that follow from the compact in-memory layout.
const (
	maxKinds          = 255
	maxLimitedKinds   = 30  // one bit each in a record's violation mask
	maxLimit          = 255 // per-person limit counters are bytes
	maxObsIdentifiers = 255
	maxEventIDLen     = 255
	maxSources        = 1 << 14
	maxCapIdentifiers = 1<<16 - 1
	maxCapMerges      = 1<<14 - 1
)

// Config declares the identifier kinds and the per-person caps of a
// Resolver. The zero value of each cap means its default.
type Config struct {
	// Kinds lists the identifier kinds from the highest priority to the
	// lowest. At most 255 kinds, of which at most 30 may have a Limit.
	Kinds []Kind
	// MaxIdentifiers caps the identifiers one person may hold (default
	// DefaultMaxIdentifiers, at most 65535). An observation that would
	// exceed it drops identifiers as a limit does, and reports
	// LimitMaxIdentifiers.
	MaxIdentifiers int
	// MaxMerges caps how many persons may be merged into one over its
	// life (default DefaultMaxMerges, at most 16383); LimitMaxMerges is
	// reported when it binds.
	MaxMerges int
	// SizeHint is the number of identifiers the host expects to store. It
	// sizes the lookup table up front, so a bulk load does not rehash.
	SizeHint int
}

// Names reported in Drop.Limits when a per-person cap, rather than a kind's
// limit, forced an identifier to be dropped.
const (
	LimitMaxIdentifiers = "max identifiers per person"
	LimitMaxMerges      = "max merges per person"
)

// kindRule is a Kind compiled for resolution.
type kindRule struct {
	Kind
	norm      Normalizer
	builtin   builtinNorm // which built-in norm is, if any
	window    uint32      // seconds; 0 = ever
	counter   int         // index of the per-person counter, or -1
	complex   bool        // limited, but counted by walking the person (window or per scope)
	bit       uint32      // violation-mask bit of a limited kind, else 0
	blocked   map[string]struct{}
	patterns  []*regexp.Regexp
	blockedNm []string // normalised blocked values, sorted as given, for the snapshot check
}

// compiled is a validated Config.
type compiled struct {
	kinds     []kindRule
	byName    map[string]uint16
	maxIDs    int
	maxMerges int
	counters  int  // per-person counters: kinds with a plain limit
	complex   bool // some kind is counted by walking persons
}

const (
	bitMaxIdentifiers = 1 << 30
	bitMaxMerges      = 1 << 31
)

func compile(cfg Config) (*compiled, error) {
	if len(cfg.Kinds) == 0 {
		return nil, fmt.Errorf("config: no identifier kinds")
	}
	if len(cfg.Kinds) > maxKinds {
		return nil, fmt.Errorf("config: %d kinds, at most %d", len(cfg.Kinds), maxKinds)
	}
	c := &compiled{byName: make(map[string]uint16, len(cfg.Kinds))}
	c.maxIDs = cfg.MaxIdentifiers
	if c.maxIDs == 0 {
		c.maxIDs = DefaultMaxIdentifiers
	}
	if c.maxIDs < 1 || c.maxIDs > maxCapIdentifiers {
		return nil, fmt.Errorf("config: MaxIdentifiers %d out of range 1..%d", cfg.MaxIdentifiers, maxCapIdentifiers)
	}
	c.maxMerges = cfg.MaxMerges
	if c.maxMerges == 0 {
		c.maxMerges = DefaultMaxMerges
	}
	if c.maxMerges < 1 || c.maxMerges > maxCapMerges {
		return nil, fmt.Errorf("config: MaxMerges %d out of range 1..%d", cfg.MaxMerges, maxCapMerges)
	}
	if cfg.SizeHint < 0 {
		return nil, fmt.Errorf("config: negative SizeHint %d", cfg.SizeHint)
	}
	limited := 0
	for i, k := range cfg.Kinds {
		where := fmt.Sprintf("config: kind %d (%q)", i, k.Name)
		if k.Name == "" || strings.ContainsFunc(k.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("%s: name must be non-empty printable text", where)
		}
		if _, dup := c.byName[k.Name]; dup {
			return nil, fmt.Errorf("%s: declared twice", where)
		}
		c.byName[k.Name] = uint16(i)
		kr := kindRule{Kind: k, norm: k.Normalize, counter: -1}
		if kr.norm == nil {
			kr.norm = NormalizeToken
		}
		kr.builtin = builtinOf(kr.norm)
		switch {
		case k.Limit < 0:
			return nil, fmt.Errorf("%s: negative Limit %d", where, k.Limit)
		case k.Limit > c.maxIDs:
			return nil, fmt.Errorf("%s: Limit %d above MaxIdentifiers %d", where, k.Limit, c.maxIDs)
		case k.Limit > maxLimit:
			return nil, fmt.Errorf("%s: Limit %d above %d", where, k.Limit, maxLimit)
		case k.Window < 0:
			return nil, fmt.Errorf("%s: negative Window %v", where, k.Window)
		case k.Window > 0 && k.Window < time.Second:
			return nil, fmt.Errorf("%s: Window %v below the one-second resolution", where, k.Window)
		case k.Window > 0 && k.Limit == 0:
			return nil, fmt.Errorf("%s: Window without a Limit", where)
		case k.Window > 100*365*24*time.Hour:
			return nil, fmt.Errorf("%s: Window %v longer than a century", where, k.Window)
		case k.LimitPerScope && !k.Scoped:
			return nil, fmt.Errorf("%s: LimitPerScope on an unscoped kind", where)
		case k.LimitPerScope && k.Limit == 0:
			return nil, fmt.Errorf("%s: LimitPerScope without a Limit", where)
		}
		kr.window = uint32(k.Window / time.Second)
		if k.Limit > 0 {
			if limited == maxLimitedKinds {
				return nil, fmt.Errorf("%s: more than %d kinds have a Limit", where, maxLimitedKinds)
			}
			kr.bit = 1 << limited
			limited++
			if kr.window > 0 || k.LimitPerScope {
				kr.complex = true
				c.complex = true
			} else {
				kr.counter = c.counters
				c.counters++
			}
		}
		if len(k.Blocked) > 0 {
			kr.blocked = make(map[string]struct{}, len(k.Blocked))
			var buf []byte
			for _, v := range k.Blocked {
				var err error
				buf, err = kr.norm(buf[:0], v)
				if err != nil {
					return nil, fmt.Errorf("%s: blocked value %q: %w", where, v, err)
				}
				kr.blocked[string(buf)] = struct{}{}
				kr.blockedNm = append(kr.blockedNm, string(buf))
			}
		}
		for _, p := range k.BlockedPatterns {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("%s: blocked pattern %q: %w", where, p, err)
			}
			kr.patterns = append(kr.patterns, re)
		}
		c.kinds = append(c.kinds, kr)
	}
	return c, nil
}

// builtinNorm names a normaliser of this package. They are called
// directly rather than through the guard against panics that host code
// needs, which also lets the compiler see the call.
type builtinNorm uint8

const (
	normHost builtinNorm = iota
	normToken
	normLower
	normEmail
	normCNMobile
)

// builtinOf tells which built-in normaliser fn is. Functions are not
// comparable in Go; their code pointers are, and a top-level function has
// exactly one.
func builtinOf(fn Normalizer) builtinNorm {
	pc := reflect.ValueOf(fn).Pointer()
	for _, b := range []struct {
		fn Normalizer
		b  builtinNorm
	}{{NormalizeToken, normToken}, {NormalizeLower, normLower}, {NormalizeEmail, normEmail}, {NormalizeCNMobile, normCNMobile}} {
		if reflect.ValueOf(b.fn).Pointer() == pc {
			return b.b
		}
	}
	return normHost
}

// kind finds a kind by name. A scan beats a map for the dozen kinds a
// host declares: most names differ in length, and equal strings from the
// same constant compare by pointer.
func (c *compiled) kind(name string) (uint16, bool) {
	for i := range c.kinds {
		if c.kinds[i].Name == name {
			return uint16(i), true
		}
	}
	return 0, false
}

// limitNames lists the limits a violation mask names, in priority order.
func (c *compiled) limitNames(mask uint32) []string {
	if mask == 0 {
		return nil
	}
	var names []string
	for i := range c.kinds {
		if c.kinds[i].bit&mask != 0 {
			names = append(names, c.kinds[i].Name)
		}
	}
	if mask&bitMaxIdentifiers != 0 {
		names = append(names, LimitMaxIdentifiers)
	}
	if mask&bitMaxMerges != 0 {
		names = append(names, LimitMaxMerges)
	}
	return names
}
