//go:build !unix

package identity

import "time"

// cpuTime is not measured here; benchmarks report zero.
func cpuTime() time.Duration { return 0 }
