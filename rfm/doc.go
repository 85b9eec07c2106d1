// Package rfm turns transactions into per-member value: recency, frequency
// and monetary summaries, RFM scores and named segments, customer lifetime
// value (BG/NBD with Gamma-Gamma) and the date each member is due to buy
// again.
//
// Transactions stream into per-member summaries held in arrays indexed by
// dense member ID, computed as of an explicit time in a given time zone.
// Scores bin members 1..N by rank, by value or by host thresholds; named
// segments map score cells to the R×F grid of most RFM tools or to the
// Chinese 8-class scheme. Everything can be loaded into a segment.Index as
// attributes and tags in one call.
package rfm
