// Package loyalty runs a member programme: tiers by growth value, a points
// ledger with lots, expiry and refunds, paid membership with its money-back
// guarantee, and stored-value accounts.
//
// A Program is a validated configuration; a Ledger applies operations to
// accounts as append-only entries, each tied to the transaction ID it came
// from, so replaying an operation returns its original result and nothing is
// counted twice. Entries live in a Store: in memory for tests, or durable on
// bbolt with group commit.
package loyalty
