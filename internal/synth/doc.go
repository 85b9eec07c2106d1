// Package synth generates a realistic, deterministic retail or pharmacy
// chain for tests, examples and benchmarks: members with attributes, the
// identifier observations a CDP receives from stores, mini programs,
// e-commerce platforms and insurers, and orders with line items and refunds.
//
// # Model
//
// A Generator is built from a Config (the zero value gives a pharmacy chain
// of 100,000 members over three years ending 2026-10-01, in Asia/Shanghai).
// Everything about member i is derived from the seed and i alone, through
// its own PCG streams, so any range of members can be generated on its own,
// in parallel, and the same seed gives the same data on any machine and in
// any order of generation. Nothing is kept in memory between members: 100M
// rows stream through an iter.Seq.
//
// Members: age (pharmacy members are older: normal, mean 52, sd 16, clipped
// to 18..95; retail: mean 38, sd 12, 16..80), gender, a city drawn from 60
// Chinese cities by a Zipf law (P(rank k) ∝ 1/k^s, s = CitySkew, default 1),
// a home store in that city, a registration channel and time (uniform over
// the window), the channels they use (a primary one and, for 35% of members,
// one to three more) and, for pharmacies, chronic conditions whose
// prevalence rises with age (hypertension, diabetes, hyperlipidemia, COPD).
// A share LapseShare (default 25%) of members lapse at a time uniform over
// their active span and never buy after it.
//
// Orders follow the BG/NBD and Gamma-Gamma generative stories: member i buys
// in a Poisson process whose daily rate is Gamma(0.6)-distributed across
// members (heavy-tailed frequency; the mean gives MeanOrders purchases over
// an average active span), and spends per order Gamma(p=3, ν_i) with ν_i
// Gamma(q=3)-distributed across members (heavy-tailed spend; mean order
// value 120 yuan for pharmacies, 180 for retail). Each order has one to four
// line items whose categories follow the profile. Pharmacy members with a
// chronic condition also refill their medicine: an order whose first line
// carries the condition's category and a days-supply (28, 30, 60 or 90
// days), repeated every days-supply divided by the member's adherence
// (0.6..1), with 8% jitter. A share RefundShare (default 2%) of orders is
// refunded 1..14 days later, fully (70%) or partly, as a separate Order with
// a negative amount and RefundOf set. Amounts are int64 fen.
//
// Observations: each member's registration, and events from each channel
// they use, are reported as the identifiers seen together in one event
// (phone, member card, WeChat UnionID and OpenIDs scoped by mini-program app
// ID, Alipay user ID, Taobao, JD and Meituan IDs, device IDs, insurer
// member IDs), with the true member for scoring resolution. The mess a real
// feed has is generated on purpose: a share of phones in a non-canonical
// format ("+86 139-1234-5678", "0086 13912345678", …), store observations
// where the cashier typed the store's own phone (SharedPhoneShare), store
// kiosks whose tablet ID is seen with many members (SharedDeviceShare),
// household devices shared between neighbouring members, and observations
// with a junk value ("", "null", "0", "-1", "anonymous", "13800000000",
// "undefined", "00000000000") in place of a real one (JunkShare).
//
// # Use
//
// Members, Observations and Orders walk members in increasing ID order;
// within a member, observations and orders are in time order. The Range
// forms walk a half-open range of member IDs, for parallel generation.
// Yielded values reuse their slices (Order.Lines, Observation.IDs): they are
// valid until the loop body returns; Clone what you keep. A Generator is
// immutable and safe for concurrent use; each walk has its own state.
//
// # Caveats
//
// Determinism across machines relies on Go's portable float arithmetic:
// every product that feeds a sum is converted explicitly (float64(a*b)),
// which the Go spec says forbids fusing it into a multiply-add on the
// architectures that have one. The golden digests in the tests pin the
// streams, so a change to the model shows up as a failing test and needs a
// deliberate update. math.Log and math.Exp have assembly versions on some
// architectures (amd64 among them) that Go does not promise to be
// bit-identical to the portable ones; the digests are checked on amd64.
package synth
