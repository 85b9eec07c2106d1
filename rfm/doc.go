// Package rfm turns transactions into per-member value: recency, frequency
// and monetary summaries, RFM scores and named segments, customer lifetime
// value (BG/NBD with Gamma-Gamma) and the date each member is due to buy
// again.
//
// Transactions ([Tx], or columns in a [Batch]) stream into [Summaries]:
// per-member first and last purchase day, orders, distinct purchase days,
// spend, refunds and orders per channel, held in arrays indexed by dense
// member ID (about 56 bytes a member) and counted in calendar days of a
// given time zone, within a window that ends at an explicit as-of time.
// [Summaries.AddBatch] splits the members into ranges on GOMAXPROCS
// workers; [Summaries.Writers] gives a host the same ranges to feed from
// its own goroutines.
//
// [Summaries.Score] bins R, F and M into 1..N ([Bin]: by rank with ties
// broken by member ID, as SQL's NTILE; by value with ties kept together;
// or at host thresholds) in O(members) time with a radix select instead
// of a sort. A [Segmenter] maps score cells to names: [Grid] is the R×F
// grid of most RFM tools, [NewSegmenter] checks a host's rules cover every
// cell exactly once; [Summaries.Classes] is the Chinese eight-class
// scheme (重要价值客户 …) against the buyers' means.
//
// [Summaries.Histories] gives the (x, t_x, T, spend) histories that
// [FitBGNBD] and [FitGammaGamma] fit by maximum likelihood (gonum's BFGS
// on log-parameters with analytic gradients; identical histories are
// collapsed into weighted rows, so a fit on 10M members costs about as
// much as one on the few hundred thousand distinct histories they have).
// A [Model] predicts P(alive), expected purchases and spend, and
// discounted CLV. [Summaries.Repurchase] estimates next purchase dates
// per member and per member × category (days-supply first), with due and
// overdue member sets and a lapse-risk signal. [Load] writes values,
// scores, segment names (enum fields) and due flags (tags) into a
// segment.Index in one transaction.
//
// Concurrency: Summaries takes one writer at a time (or one per Writer
// range); reads may run concurrently with each other but not with writes.
// Scores, Segments, Histories and Repurchase are immutable results;
// Segmenter, BGNBD, GammaGamma and Model are values safe for concurrent
// use.
//
// # Caveats
//
//   - Distinct purchase days are exact when each member's transactions
//     arrive in time order or at most 63 days late; a purchase older than
//     that which falls strictly between the member's first and last day is
//     counted as a new day and reported in [Stats].Unordered.
//   - Refunds subtract from monetary value but never from frequency or
//     dates, and are not checked against the order they name. A window
//     that starts after an order still subtracts its later refund.
//   - A rolling window (the last 365 days) cannot be maintained
//     incrementally: old transactions are not kept. Rebuild from the
//     transaction store; incremental use ([Summaries.Advance]) suits a
//     window with a fixed start.
//   - When the data show no spread in drop-out rates, BG/NBD's a and b run
//     off together toward infinity; the fit then returns the best
//     estimates found with [ErrNotConverged]. They still predict well.
//   - Gamma-Gamma assumes spend is independent of frequency; check the
//     correlation on your data before trusting CLV.
package rfm
