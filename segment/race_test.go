//go:build race

package segment

// raceEnabled scales the property tests down under the race detector, which
// slows the reference scans tenfold; the full volume runs without it.
const raceEnabled = true
