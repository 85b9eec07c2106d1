// Package loyalty runs a member programme: tiers by growth value, a points
// ledger with lots, expiry and refunds, paid membership with its money-back
// guarantee, and stored-value accounts.
//
// There are few types. A Config is the programme's rules as a plain struct
// (or JSON, via ParseProgram); NewProgram validates it into an immutable
// Program. A Ledger applies operations — Order, Refund, Redeem, Reverse,
// Adjust, Settle, Evaluate, BuyCard, RenewCard, CancelCard, TopUp, Spend,
// RefundSpend, Withdraw, all implementing Op — to members' accounts kept in
// a Store, and returns a Receipt: the append-only Entries the operation
// wrote, the Events it raised and the Totals after it. Balance reads a
// member's position at any as-of time; Audit recomputes every balance from
// the entries and compares.
//
// Points live in lots, one per order (or positive adjustment), each with
// its own pending period and expiry (N months on, to the end of that day,
// month or year in the programme's zone). Redemptions take the
// earliest-expiring lots first and record which; a refund reverses the
// points its lines earned (recomputed on what is left of the order, so
// partial refunds add up exactly) and restores points paid on the order to
// their original lots, where already-expired ones expire again at once.
// Points that were spent before their order was refunded are taken from
// other lots or, failing that, recorded as a debt the next points pay
// off. Every operation first settles the account to its own time:
// pending points mature, lots expire, notices go out, ended card periods
// settle. Settle and Evaluate, run over all members by SettleAll and
// EvaluateAll, do the same for members with no activity.
//
// Every operation carries a transaction ID. Applying an ID again returns
// the original Receipt (Replayed set); the same ID with different content
// fails with a *ConflictError; a failed operation records nothing.
// Money is int64 fen, points int64, members dense uint32, and time always
// explicit: nothing reads the clock.
//
// # Concurrency and cost
//
// A Program is immutable and a Ledger is safe for concurrent use:
// operations on one member are serialised from reading the account to the
// durable commit, operations on different members run in parallel, and
// the durable store (package loyalty/boltstore, on bbolt) batches
// concurrent commits into one synced transaction, so each call returns
// once its entries are on disk while throughput grows with concurrency.
// NewMemStore keeps everything in memory for tests and one-off replays.
// An operation reads and rewrites its member's whole account, so its CPU
// cost grows with the member's lots and purchase days: a few microseconds
// for a typical member.
//
// # Caveats
//
// Operations apply in arrival order; their times drive windows and expiry
// but do not reorder them, so an order that arrives late earns a lot with
// its own (earlier) expiry and does not revise earlier redemptions.
// Lots and growth days are never pruned from an account. Events reach the
// Notifier after the commit; a crash in between loses the call but not
// the events, which the replayed Receipt carries again.
package loyalty
