// Package pharmacy is the story of the README's main job: a synthetic
// pharmacy chain run end to end through a cdpkit.Engine. The example
// (examples/pharmacy) and the command line (cdpkit demo) both run it.
//
// Run takes a Config (how many members, which seed) and returns a Report
// with what each stage found and the wall time it took; WriteText prints
// it and WriteHTML renders it as one self-contained page with SVG charts.
// The stages, in order:
//
//   - oneid: internal/synth generates every member's identifier
//     observations (stores, WeChat and Alipay mini programs, Taobao, JD,
//     Meituan, an insurer), messy as real feeds are — junk values, phones
//     in odd formats, the store counter's phone typed for customers who
//     gave none, the self-service kiosks' shared tablets. The Engine
//     resolves them in time order (ObserveAll). The graph is then read
//     back to count what was rejected and refused, and the persons are
//     scored against the true members.
//   - orders: about twenty orders and refunds per member. An order carries
//     the identifier its channel knows the buyer by — the member card at
//     the till, the WeChat UnionID, the platforms' buyer IDs — the way a
//     POS or a mini program sends an order once the member has scanned a
//     card or logged in; it is looked up once per member and channel, and
//     an identifier OneID has never seen is observed (in the time order of
//     its first order) so that it starts or joins a person. The orders are
//     then grouped by person, in time order, the order a backfill loads
//     history in.
//   - record: RecordOrders loads the history; the member programme,
//     launched a year before the as-of day, replays that last year.
//   - contacts: the CRM's log of the previous month's SMS and WeChat
//     touches, generated from the seed, recorded as the event "contacted".
//   - loyalty: SettleLoyalty matures and expires points and reviews tiers.
//   - refresh: RefreshTags derives every person's fields (RFM scores,
//     P(alive) and lifetime value, refill due days, tier and points) and
//     evaluates the story's tags, all pushed down to bitmaps.
//   - audience: the refill reminder's audience, counted condition by
//     condition, and its 90/10 campaign/hold-out split.
//
// Everything is deterministic: the same Config gives the same report,
// timings aside. The tests check the story's numbers against a plain
// recomputation from the raw generated data (reference_test.go).
//
// # Costs
//
// The whole order history is held in memory in columns (about 45 bytes an
// order) besides the Engine's own state; the default million members and
// twenty million orders need a few GB. Run uses every core the Go runtime
// has for generation and the Engine's bulk paths.
//
// # Caveats
//
// The report reads OneID's refusals back from the final graph rather than
// from the resolver's results at the time (the Engine's bulk load does not
// return them): an identifier counts as refused when it is held by no
// person, or by another person than its observation's, which is decided by
// the observation's highest-priority identifier.
package pharmacy
