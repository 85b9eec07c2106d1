package identity

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// An Identifier is one value that names a customer in some system: a phone
// number, a member card, a WeChat OpenID. Kind names a kind declared in the
// Config. Scope qualifies values that are only unique within a namespace —
// a WeChat OpenID is unique per mini program or official account, so its
// Scope is the app ID ("wx…"); it must be empty for unscoped kinds and set
// for scoped ones.
type Identifier struct {
	Kind  string // a kind declared in the Config, e.g. "phone"
	Value string // the value as seen; it is normalised before use
	Scope string // the namespace of a scoped kind, e.g. a WeChat app ID
}

// String formats the identifier as kind:value, or kind[scope]:value for a
// scoped kind.
func (id Identifier) String() string {
	if id.Scope != "" {
		return id.Kind + "[" + id.Scope + "]:" + id.Value
	}
	return id.Kind + ":" + id.Value
}

// A Normalizer appends the canonical form of value to dst and returns the
// extended slice, or an error saying why the value is not a valid identifier
// of its kind. It must be a pure function of value, and must not retain dst.
type Normalizer func(dst []byte, value string) ([]byte, error)

// A Kind declares one kind of identifier and the rules it is resolved
// under. Kinds are listed in Config.Kinds from the highest priority to the
// lowest: when a limit would be broken, identifiers of lower-priority kinds
// are dropped first.
type Kind struct {
	// Name is how observations refer to the kind, e.g. "phone".
	Name string
	// Normalize canonicalises values; nil means NormalizeToken.
	Normalize Normalizer
	// Scoped kinds require Identifier.Scope (WeChat OpenIDs: the app ID).
	Scoped bool
	// Limit is the most identifiers of this kind one person may hold, at
	// most 255; 0 means no limit. A member card or UnionID would have 1,
	// a phone 2.
	Limit int
	// Window, when positive, makes Limit count only identifiers linked by
	// an observation within Window before the observation being resolved,
	// so a person may replace devices over time but not hold six at once.
	// It has a resolution of one second.
	Window time.Duration
	// LimitPerScope applies Limit to each scope separately (one OpenID per
	// mini program) rather than to the kind as a whole. Scoped kinds only.
	LimitPerScope bool
	// Blocked lists values that must never be stored or link anything (a
	// store's own phone number, a test card). They are normalised with
	// Normalize, so they may be written in any form the kind accepts.
	Blocked []string
	// BlockedPatterns are regular expressions (RE2 syntax) matched against
	// the normalised value; a value that matches is blocked. Anchor them
	// (^…$) to match whole values.
	BlockedPatterns []string
	// KeepDefaultBlocked turns off the built-in junk filter that blocks
	// empty values, "null", "undefined", "anonymous" (in any case), "-1"
	// and values made only of zeros and punctuation ("0000", "00:00:00",
	// "00000000-0000-0000-0000-000000000000").
	KeepDefaultBlocked bool
}

// Names of the kinds DefaultKinds declares.
const (
	KindMemberCard   = "member_card"
	KindUnionID      = "wechat_unionid"
	KindPhone        = "phone"
	KindAlipayUID    = "alipay_uid"
	KindWeChatOpenID = "wechat_openid"
	KindEmail        = "email"
	KindTaobaoID     = "taobao_id"
	KindJDID         = "jd_id"
	KindMeituanID    = "meituan_id"
	KindDevice       = "device_id"
	KindInsurerID    = "insurer_id"
)

// DefaultKinds returns a starting configuration for a Chinese retail or
// pharmacy chain, highest priority first: member card (1 per person),
// WeChat UnionID (1), mainland mobile phone (2), Alipay user ID (1), an
// insurer's member ID (1), WeChat OpenID scoped by app ID (1 per app),
// e-mail (3), Taobao, JD and Meituan buyer IDs (2 each) and device IDs (5
// seen within 90 days). The names are those internal/synth and
// `cdpkit gen` write. The slice is new on each call, so callers may edit it.
func DefaultKinds() []Kind {
	return []Kind{
		{Name: KindMemberCard, Limit: 1},
		{Name: KindUnionID, Limit: 1},
		{Name: KindPhone, Normalize: NormalizeCNMobile, Limit: 2},
		{Name: KindAlipayUID, Limit: 1},
		{Name: KindInsurerID, Limit: 1},
		{Name: KindWeChatOpenID, Scoped: true, Limit: 1, LimitPerScope: true},
		{Name: KindEmail, Normalize: NormalizeEmail, Limit: 3},
		{Name: KindTaobaoID, Limit: 2},
		{Name: KindJDID, Limit: 2},
		{Name: KindMeituanID, Limit: 2},
		{Name: KindDevice, Normalize: NormalizeLower, Limit: 5, Window: 90 * 24 * time.Hour},
	}
}

// maxValueLen bounds a normalised value, so that it fits the one-byte
// length of its entry in the identifier arena.
const maxValueLen = 255

// NormalizeToken trims surrounding white space and rejects values that
// contain white space or control characters inside; case is kept, because
// OpenIDs, UnionIDs and most platform IDs are case-sensitive.
func NormalizeToken(dst []byte, value string) ([]byte, error) {
	// Most values are printable ASCII with nothing to trim.
	plain := len(value) > 0
	for i := 0; i < len(value); i++ {
		if c := value[i]; c <= ' ' || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain {
		return append(dst, value...), nil
	}
	v := strings.TrimFunc(value, unicode.IsSpace)
	for i, c := range v {
		if c == utf8.RuneError {
			return dst, fmt.Errorf("invalid UTF-8 at byte %d", i)
		}
		if unicode.IsSpace(c) || unicode.IsControl(c) {
			return dst, fmt.Errorf("white space or control character %q at byte %d", c, i)
		}
	}
	return append(dst, v...), nil
}

// NormalizeLower is NormalizeToken followed by lower-casing, for values
// whose case carries no meaning such as device IDs and IDFAs written in hex.
func NormalizeLower(dst []byte, value string) ([]byte, error) {
	// One pass for printable ASCII with nothing to trim, the usual case.
	plain := len(value) > 0
	start := len(dst)
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c <= ' ' || c >= 0x7f {
			plain = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if plain {
		return dst, nil
	}
	dst = dst[:start]
	dst, err := NormalizeToken(dst, value)
	if err != nil {
		return dst, err
	}
	return lowerInPlace(dst, start), nil
}

// lowerInPlace lower-cases dst[start:], rewriting it in place when it is
// ASCII and re-encoding it otherwise.
func lowerInPlace(dst []byte, start int) []byte {
	ascii := true
	for _, c := range dst[start:] {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := start; i < len(dst); i++ {
			if c := dst[i]; 'A' <= c && c <= 'Z' {
				dst[i] = c + 'a' - 'A'
			}
		}
		return dst
	}
	// Lower-casing can change the encoded length, so decode from a copy.
	src := bytes.Clone(dst[start:])
	dst = dst[:start]
	for len(src) > 0 {
		c, n := utf8.DecodeRune(src)
		dst = utf8.AppendRune(dst, unicode.ToLower(c))
		src = src[n:]
	}
	return dst
}

// NormalizeEmail trims white space and lower-cases the address, then checks
// that it has the form local@domain with a dot in the domain and no white
// space. Lower-casing the local part is not what RFC 5321 promises, but it
// is what every mail provider Chinese retailers see does, and not doing it
// splits people.
func NormalizeEmail(dst []byte, value string) ([]byte, error) {
	start := len(dst)
	dst, err := NormalizeToken(dst, value)
	if err != nil {
		return dst[:start], err
	}
	dst = lowerInPlace(dst, start)
	v := dst[start:]
	at := bytes.LastIndexByte(v, '@')
	switch {
	case at < 0:
		return dst[:start], errors.New("no @")
	case at == 0:
		return dst[:start], errors.New("empty local part")
	case at == len(v)-1:
		return dst[:start], errors.New("empty domain")
	}
	domain := v[at+1:]
	dot := bytes.IndexByte(domain, '.')
	if dot <= 0 || domain[len(domain)-1] == '.' {
		return dst[:start], fmt.Errorf("domain %q has no dot-separated name", domain)
	}
	return dst, nil
}

// NormalizeCNMobile canonicalises a mainland Chinese mobile number to its
// 11 digits. It accepts full-width digits, spaces, dashes, dots and
// parentheses between digits and a country code written +86, 0086 or 86
// (the last only in front of 11 digits). The result must be 11 digits of
// the form 1[3-9]xxxxxxxxx, the MIIT numbering plan for mobile services;
// numbers such as 10086 or 12345678901 are rejected.
func NormalizeCNMobile(dst []byte, value string) ([]byte, error) {
	start := len(dst)
	plus := false
	for i, c := range value {
		switch {
		case '0' <= c && c <= '9':
			dst = append(dst, byte(c))
		case '０' <= c && c <= '９': // full-width digits from Chinese input methods
			dst = append(dst, byte(c-'０'+'0'))
		case c == '+' || c == '＋':
			if plus || len(dst) > start {
				return dst[:start], fmt.Errorf("misplaced + at byte %d", i)
			}
			plus = true
		case c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')' ||
			c == '\u3000' || c == '－' || c == '（' || c == '）':
		default:
			return dst[:start], fmt.Errorf("unexpected character %q at byte %d", c, i)
		}
		if len(dst)-start > 20 {
			return dst[:start], errors.New("too many digits")
		}
	}
	d := dst[start:]
	switch {
	case plus && bytes.HasPrefix(d, []byte("86")):
		d = d[2:]
	case plus:
		return dst[:start], errors.New("country code is not +86")
	case len(d) == 15 && bytes.HasPrefix(d, []byte("0086")):
		d = d[4:]
	case len(d) == 13 && bytes.HasPrefix(d, []byte("86")):
		d = d[2:]
	}
	if len(d) != 11 {
		return dst[:start], fmt.Errorf("%d digits, want 11", len(d))
	}
	if d[0] != '1' || d[1] < '3' || d[1] > '9' {
		return dst[:start], errors.New("not a mobile number (want 1[3-9] then 9 digits)")
	}
	copy(dst[start:], d)
	return dst[:start+11], nil
}

// isDefaultJunk reports whether v is one of the placeholder values that
// tracking code and data entry produce when there is no real identifier.
func isDefaultJunk(v []byte) bool {
	switch len(v) {
	case 2:
		if v[0] == '-' && v[1] == '1' {
			return true
		}
	case 4:
		if v[0]|0x20 == 'n' && bytes.EqualFold(v, []byte("null")) {
			return true
		}
	case 9:
		if c := v[0] | 0x20; c == 'u' && bytes.EqualFold(v, []byte("undefined")) || c == 'a' && bytes.EqualFold(v, []byte("anonymous")) {
			return true
		}
	}
	// Only zeros and punctuation: "", "0", "000000", the zeroed IDFA.
	for _, c := range v {
		if c >= utf8.RuneSelf || c != '0' && ('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
