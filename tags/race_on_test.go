//go:build race

package tags

// raceEnabled scales the property tests down under the race detector,
// which slows cel-go's interpreter about tenfold.
const raceEnabled = true
