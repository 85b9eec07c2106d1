package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes one result as a line of JSON.
func WriteJSON(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// ReadJSON reads results written by WriteJSON, one per line; blank lines
// are skipped. A bad line is an error naming its line number.
func ReadJSON(r io.Reader, name string) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var res Result
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&res); err != nil {
			return out, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if res.Suite == "" || res.Case == "" || res.Impl == "" || res.Members <= 0 || res.Runs <= 0 {
			return out, fmt.Errorf("%s:%d: result lacks suite, case, impl, members or runs", name, line)
		}
		out = append(out, res)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// key identifies a case at a size.
type key struct {
	suite, cas string
	members    int
}

// group orders results by suite, case and size in the order each first
// appears, keeping the implementations in their order within a group. A
// later result for the same group and implementation replaces an earlier
// one, so files from several runs can be combined.
func group(results []Result) (keys []key, rows map[key][]Result) {
	rows = make(map[key][]Result)
	for _, r := range results {
		k := key{r.Suite, r.Case, r.Members}
		rs, seen := rows[k]
		if !seen {
			keys = append(keys, k)
		}
		replaced := false
		for i := range rs {
			if rs[i].Impl == r.Impl {
				rs[i], replaced = r, true
			}
		}
		if !replaced {
			rs = append(rs, r)
		}
		rows[k] = rs
	}
	return keys, rows
}

// Ratio returns peer's median over the reference's in the same group of
// rs: above 1 means cdpkit is faster. ok is false without a reference.
func Ratio(rs []Result, peer Result) (ratio float64, ok bool) {
	for _, r := range rs {
		if r.Impl == Reference && r.MedianNS > 0 {
			return float64(peer.MedianNS) / float64(r.MedianNS), true
		}
	}
	return 0, false
}

// WriteTable writes results as an aligned table for a terminal: a row per
// implementation, grouped by case, with the ratio of each peer's median to
// cdpkit's.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "suite\tcase\tmembers\timpl\tmedian\tmin\tmax\truns\tops\tpeer/cdpkit\tmem\tp99 call\t")
	keys, rows := group(results)
	for _, k := range keys {
		for i, r := range rows[k] {
			suite, cas, members := k.suite, k.cas, FormatCount(int64(k.members))
			if i > 0 {
				suite, cas, members = "", "", ""
			}
			p99 := ""
			if r.P99NS > 0 {
				p99 = FormatNS(r.P99NS)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t\n",
				suite, cas, members, r.Impl,
				FormatNS(r.MedianNS), FormatNS(r.MinNS), FormatNS(r.MaxNS),
				r.Runs, r.Ops, ratioCell(rows[k], r), FormatBytes(r.Bytes), p99)
		}
	}
	return tw.Flush()
}

func ratioCell(rs []Result, r Result) string {
	if r.Impl == Reference {
		return ""
	}
	q, ok := Ratio(rs, r)
	if !ok {
		return "—"
	}
	return FormatRatio(q)
}

// FormatRatio writes a ratio with two or three significant digits and a ×.
func FormatRatio(q float64) string {
	switch {
	case q >= 100:
		return fmt.Sprintf("%.0f×", q)
	case q >= 10:
		return fmt.Sprintf("%.1f×", q)
	case q >= 0.1:
		return fmt.Sprintf("%.2f×", q)
	default:
		return fmt.Sprintf("%.3f×", q)
	}
}

// FormatNS writes a duration in nanoseconds with three significant digits
// in the unit that suits it.
func FormatNS(ns int64) string {
	f := float64(ns)
	switch {
	case ns < 1_000:
		return fmt.Sprintf("%d ns", ns)
	case ns < 1_000_000:
		return sig3(f/1e3) + " µs"
	case ns < 1_000_000_000:
		return sig3(f/1e6) + " ms"
	default:
		return sig3(f/1e9) + " s"
	}
}

func sig3(f float64) string {
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	case f >= 10:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.2f", f)
	}
}

// FormatBytes writes a size in binary units.
func FormatBytes(b int64) string {
	f := float64(b)
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%d B", b)
	case b < 1<<20:
		return sig3(f/(1<<10)) + " KiB"
	case b < 1<<30:
		return sig3(f/(1<<20)) + " MiB"
	default:
		return sig3(f/(1<<30)) + " GiB"
	}
}

// FormatCount writes a member count the way people say it: 1k, 10M, 1.5M.
func FormatCount(n int64) string {
	switch {
	case n >= 1_000_000_000 && n%100_000_000 == 0:
		return trimZero(float64(n)/1e9) + "G"
	case n >= 1_000_000 && n%100_000 == 0:
		return trimZero(float64(n)/1e6) + "M"
	case n >= 1_000 && n%100 == 0:
		return trimZero(float64(n)/1e3) + "k"
	default:
		return fmt.Sprint(n)
	}
}

func trimZero(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}
