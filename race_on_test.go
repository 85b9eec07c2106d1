//go:build race

package cdpkit

const raceEnabled = true
