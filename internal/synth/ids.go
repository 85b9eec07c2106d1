package synth

import (
	"math/bits"
)

// Identifier kinds as they appear in observations.
const (
	KindPhone         = "phone"          // Chinese mobile number, 11 digits in canonical form
	KindMemberCard    = "member_card"    // the chain's member card number
	KindWeChatUnionID = "wechat_unionid" // WeChat UnionID, one per person across the chain's apps
	KindWeChatOpenID  = "wechat_openid"  // WeChat OpenID, one per person per mini program (Scope = app ID)
	KindAlipayUID     = "alipay_uid"     // Alipay user ID (2088…)
	KindTaobaoID      = "taobao_id"      // Taobao/Tmall buyer ID
	KindJDID          = "jd_id"          // JD buyer ID
	KindMeituanID     = "meituan_id"     // Meituan user ID
	KindDeviceID      = "device_id"      // a phone or tablet's device ID
	KindInsurerID     = "insurer_id"     // the insurer's member ID
)

// WeChat mini-program app IDs: OpenIDs are scoped by them.
const (
	AppPharmacy = "wx5f3c8e2a9b1d7c40" // the chain's main mini program
	AppMall     = "wx9a1e6b3d2c8f4a75" // its mall mini program
)

// Identifier is one identifier seen in an observation.
type Identifier struct {
	Kind  string
	Value string
	// Scope qualifies Value where it is only unique within a scope: the
	// mini-program app ID of a WeChat OpenID. Empty otherwise.
	Scope string
}

// Junk values that real feeds carry in place of an identifier.
var (
	junkPhone   = []string{"", "null", "0", "-1", "13800000000", "00000000000", "undefined"}
	junkGeneric = []string{"", "null", "0", "-1", "anonymous", "undefined"}
)

// JunkValues lists every junk value the generator writes.
func JunkValues() []string {
	return []string{"", "null", "0", "-1", "anonymous", "undefined", "13800000000", "00000000000"}
}

// Phone numbers are allocated from disjoint pools of three-digit prefixes,
// each holding 10^8 numbers, so that members' numbers never collide with
// each other, with second phones or with stores' phones. 138 is left out:
// 13800138000 and 13800000000 are well-known placeholders.
var (
	memberPrefixes = []string{"139", "137", "136", "135", "134", "159", "158", "157", "152", "151",
		"150", "188", "187", "182", "183", "184", "178", "147", "130", "131", "132", "155", "156",
		"186", "185", "176", "133", "153", "180", "181", "189", "177", "173", "199"}
	secondPrefixes = []string{"191", "198", "166", "175", "171"}
	storePrefixes  = []string{"170"}
)

// phoneDigits writes n's phone in pool: prefix n/10^8, then a bijective
// scramble of n mod 10^8 (an affine map with a multiplier coprime to
// 10^8), so numbers look random yet never repeat.
func phoneDigits(pool []string, n uint64) string {
	const m = 100_000_000
	p := pool[(n/m)%uint64(len(pool))]
	s := (n%m*48_271_117 + 12_345_679) % m
	var b [11]byte
	copy(b[:3], p)
	for i := 10; i >= 3; i-- {
		b[i] = byte('0' + s%10)
		s /= 10
	}
	return string(b[:])
}

// formatPhone writes an 11-digit phone in one of the formats people and
// systems type.
func formatPhone(r rng, p string) string {
	switch r.IntN(6) {
	case 0:
		return "+86 " + p[:3] + "-" + p[3:7] + "-" + p[7:]
	case 1:
		return "+86" + p
	case 2:
		return "0086 " + p
	case 3:
		return p[:3] + " " + p[3:7] + " " + p[7:]
	case 4:
		return "86-" + p
	default:
		return p[:3] + "-" + p[3:7] + "-" + p[7:]
	}
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// token writes prefix followed by n base-62 characters: the first eleven
// encode mix64(key) (unique for a unique key), the rest are filler drawn
// from a second hash.
func token(prefix string, key uint64, n int) string {
	b := make([]byte, len(prefix), len(prefix)+n)
	copy(b, prefix)
	x, y := mix64(key), mix64(key^0x5bd1e9955bd1e995)
	for i := range n {
		if i < 11 {
			b = append(b, base62[x%62])
			x /= 62
		} else {
			b = append(b, base62[y%62])
			y /= 62
			if y == 0 {
				y = mix64(key + uint64(i))
			}
		}
	}
	return string(b)
}

// digits writes prefix followed by a width-digit bijective scramble of n
// (mod = 10^width, mul coprime to it): (n·mul + add) mod 10^width, the
// product taken in 128 bits so it cannot overflow.
func digits(prefix string, n uint64, width int, mod, mul, add uint64) string {
	hi, lo := bits.Mul64(n%mod, mul)
	s := (bits.Rem64(hi, lo, mod) + add) % mod
	b := []byte(prefix)
	start := len(b)
	b = append(b, make([]byte, width)...)
	for i := len(b) - 1; i >= start; i-- {
		b[i] = byte('0' + s%10)
		s /= 10
	}
	return string(b)
}

// Salts keep the hash-derived identifiers of different kinds apart.
const (
	saltUnion uint64 = 0x1000_0000_0000 * (iota + 1)
	saltOpenPharmacy
	saltOpenMall
	saltTaobao
	saltJD
	saltDevice
	saltKiosk
)

func (g *Generator) key(salt uint64, id uint64) uint64 {
	return g.cfg.Seed*0x9e3779b97f4a7c15 ^ salt ^ id
}

func memberPhone(id uint32) string   { return phoneDigits(memberPrefixes, uint64(id)) }
func secondPhone(id uint32) string   { return phoneDigits(secondPrefixes, uint64(id)) }
func storePhone(store uint32) string { return phoneDigits(storePrefixes, uint64(store)) }
func memberCard(id uint32) string    { return digits("6", uint64(id), 11, 1e11, 37_958_271_113, 104_729) }
func alipayUID(id uint32) string {
	return digits("2088", uint64(id), 12, 1e12, 618_033_988_749, 31_337)
}
func meituanID(id uint32) string { return digits("mt", uint64(id), 10, 1e10, 7_192_837_461, 4_242) }
func insurerID(id uint32) string { return digits("PIC", uint64(id), 10, 1e10, 3_141_592_653, 77) }
func (g *Generator) unionID(id uint32) string {
	return token("oU", g.key(saltUnion, uint64(id)), 26)
}

func (g *Generator) openID(app string, id uint32) string {
	salt := saltOpenPharmacy
	if app == AppMall {
		salt = saltOpenMall
	}
	return token("o", g.key(salt, uint64(id)), 27)
}

func (g *Generator) taobaoID(id uint32) string { return token("tb", g.key(saltTaobao, uint64(id)), 12) }
func (g *Generator) jdID(id uint32) string     { return token("jd_", g.key(saltJD, uint64(id)), 12) }

// deviceID writes a UUID-shaped device ID for key.
func (g *Generator) deviceID(salt, key uint64) string {
	x, y := mix64(g.key(salt, key)), mix64(g.key(salt, key)^0x2545f4914f6cdd1d)
	const hex = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i := range b {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		v := x
		if j >= 16 {
			v = y
		}
		b[i] = hex[(v>>(4*(j%16)))&15]
		j++
	}
	return string(b[:])
}
