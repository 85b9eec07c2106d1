// Package cdpkit wires the packages of cdpkit into one Engine for a host
// that wants all of them: the core of a customer data platform for a
// retail or pharmacy chain, embedded in the host's own service.
//
// An Engine is made from a Config and fed four kinds of input. Observe
// (or ObserveAll, for history) resolves identifiers seen together —
// phone, member card, WeChat and Alipay IDs, platform and insurer IDs —
// into persons with dense IDs (package identity). RecordOrder (or
// RecordOrders) records an order or refund for a person, named by ID or
// by identifiers, into RFM summaries (package rfm), trailing windows,
// activity days and the loyalty ledger (package loyalty). SetAttributes
// (or LoadAttributes) sets the host's own profile fields, declared as a
// tags.Schema. RecordEvent records the host's events ("contacted") for
// activity windows.
//
// From these the Engine derives fields for every person, which tag rules
// (package tags, CEL) and audience expressions (package segment) read
// beside the host's fields:
//
//	orders_total, spend_total, purchase_days    counts and net spend in fen
//	first_order_at, last_order_at, recency_days dates of the first and last order
//	orders_<N>d, spend_<N>d                     per window of Config.Windows (30, 90)
//	channels, channels_used, orders_<channel>   per channel of Config.Channels
//	rfm_r, rfm_f, rfm_m, rfm_segment            RFM scores 1..5 and R×F grid segment
//	p_alive, alive_pct, clv                     BG/NBD and Gamma-Gamma: still buying, 365-day value
//	next_purchase_days, refill_due_days         days until due to buy, or medicine runs out
//	due_days_<category>                         per category of Config.Categories
//	tier, points, growth                        from the ledger, with a Program
//
// DerivedFields lists them with types and meanings. RefreshTags(asOf)
// derives every field for everyone, writes the fields into the index and
// refreshes every tag on all cores — rules whose fields the index holds
// are evaluated as bitmap operations, the rest per person. Between
// refreshes, a person whose data changes (an order, new attributes, a
// merge) is re-derived at once, and the tags gained and lost are returned
// for real-time triggers; population fields (RFM scores, clv) wait for the
// next refresh. Audiences are CEL-syntax expressions over fields, tags,
// activity and saved segments —
//
//	tag("chronic") && refill_due_days <= 7 && !active("contacted", "7d") && rfm_segment != "Hibernating"
//
// — answered by Count, Members and IDs from an immutable version of the
// index, and divided into campaign and hold-out groups by Split. Saved
// segments report who entered and exited them to Subscribe after each
// refresh.
//
// Identity changes re-key everything: a merge moves the loser's bits,
// summaries, window entries, attributes and loyalty account into the
// survivor and re-derives it; a split clears the persons it recomputed
// for the host to record again; an erasure deletes. Snapshot writes the
// whole Engine to a directory atomically with a checksum per part, and
// Open restores it: the same later calls then give the same answers as if
// the process had never stopped.
//
// # Concurrency and costs
//
// An Engine is safe for concurrent use; the contract is on the type.
// Writes take turns on one lock, bulk loads a chunk at a time; audience
// reads never wait. Bulk loads use the packages' batch paths on all
// cores: identity's ObserveBatch, RFM writers by member range, index bulk
// loads, the ledger per person in parallel. Memory is about that of the
// packages — identity's ~80 bytes per identifier, RFM's ~60 bytes per
// person, the index's bitmaps — plus 8–24 bytes per person per derived
// field and about 30 bytes per order within the longest window.
//
// # Caveats
//
//   - Person IDs are identity's: an order or attribute naming a person ID
//     must use one identity issued.
//   - An order is recognised as a replay by the ledger's transaction ID
//     ("order:<ID>") with a programme, and otherwise only within the
//     longest window: without a programme, an order older than that
//     recorded twice counts twice.
//   - Bulk loads do not re-derive persons; run RefreshTags afterwards.
//     The trailing windows keep orders of the longest window before the
//     latest order seen (and the latest refresh); a refresh at an earlier
//     as-of sees fewer orders in its windows.
//   - Loyalty accounts do not follow identity splits: the ledger's merges
//     are final. The orders of a person a split cleared, recorded again,
//     are replays in the ledger (or refused there, for an account a merge
//     closed) and are recorded everywhere else without points. Erasure
//     leaves the ledger's financial records, under the person's ID only.
//   - RefreshTags writes derived fields and tags in two index
//     transactions; between them a reader sees new fields with old tags.
package cdpkit
