package harness

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where results were measured, for the report: figures
// mean little without the machine they came from.
type Machine struct {
	CPU        string
	Cores      int
	GOMAXPROCS int
	MemBytes   int64
	Go         string
	OS, Arch   string
	Date       time.Time
	// Extra holds versions of peers and anything else worth naming, in
	// order, such as "DuckDB v1.5.6".
	Extra []string
}

// ThisMachine describes the running machine. Where Linux's /proc is not
// there to read, CPU is "unknown" and MemBytes 0.
func ThisMachine(now time.Time) Machine {
	m := Machine{
		CPU:        "unknown",
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		Date:       now.UTC(),
	}
	if v, ok := procField("/proc/cpuinfo", "model name"); ok {
		m.CPU = v
	}
	if v, ok := procField("/proc/meminfo", "MemTotal"); ok {
		// "24592016 kB"
		if f := strings.Fields(v); len(f) == 2 && f[1] == "kB" {
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				m.MemBytes = kb << 10
			}
		}
	}
	return m
}

// procField returns the value of the first "name : value" line of a /proc
// file.
func procField(path, name string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
