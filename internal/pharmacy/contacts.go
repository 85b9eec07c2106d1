package pharmacy

import (
	"time"
)

// A Contact is one touch the chain's CRM sent a person before the story's
// as-of day: an SMS or a WeChat message.
type Contact struct {
	Person  uint32
	At      time.Time
	Channel string // "sms" or "wechat"
}

// contactCampaigns are the touches of the month before the as-of day:
// service messages on every day, and two campaigns.
var contactCampaigns = []struct {
	name    string
	daysAgo int     // 0 is the as-of day; -1 means every day of the month
	share   float64 // of persons touched
	channel string
}{
	{"WeChat service messages", -1, 0.01, "wechat"},
	{"mid-September health check SMS", 12, 0.20, "sms"},
	{"National Day WeChat coupon", 3, 0.08, "wechat"},
}

// contactLog generates the CRM's log of the 30 days up to the as-of day
// for the given persons (ascending), deterministically from the seed: a
// person's touches depend on the seed and its ID alone, through a
// SplitMix64 hash, so a smaller run touches its persons the same way.
// The log is in time order, ties by person.
func contactLog(seed uint64, persons []uint32, asOf time.Time, loc *time.Location) []Contact {
	y, m, d := asOf.In(loc).Date()
	var out []Contact
	for ago := 29; ago >= 0; ago-- {
		at := time.Date(y, m, d-ago, 10, 0, 0, 0, loc)
		for ci, c := range contactCampaigns {
			if c.daysAgo >= 0 && c.daysAgo != ago {
				continue
			}
			// A threshold on 53 bits of the hash: share 0.2 touches a
			// person when the hash falls in the lowest fifth.
			limit := uint64(c.share * (1 << 53))
			for _, p := range persons {
				if contactHash(seed, p, ago, ci)>>11 < limit {
					out = append(out, Contact{Person: p, At: at, Channel: c.channel})
				}
			}
		}
	}
	return out
}

// contactHash mixes the seed, person, day and campaign with the SplitMix64
// finaliser (Steele, Lea and Flood 2014).
func contactHash(seed uint64, p uint32, ago, campaign int) uint64 {
	return mix64(mix64(seed^uint64(p)) + uint64(ago)<<8 + uint64(campaign))
}

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
