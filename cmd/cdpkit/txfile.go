package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // --tz must work on machines without a zoneinfo database

	"github.com/cdpkit/cdpkit/rfm"
)

// txFlags are the flags that say how to read a transaction file; the
// rfm and clv commands share them.
type txFlags struct {
	format     string
	tz         string
	memberCol  int
	timeCol    int
	amountCol  int
	timeLayout string
	skip       int
	members    string
}

func (f *txFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.format, "format", "auto", "transaction file format: csv, text (whitespace-separated columns) or auto (csv when the first line has a comma)")
	fs.StringVar(&f.tz, "tz", "UTC", "time zone of dates without an offset, and of calendar days (e.g. Asia/Shanghai)")
	fs.IntVar(&f.memberCol, "member-col", 1, "text format: column (from 1) of the member ID")
	fs.IntVar(&f.timeCol, "time-col", 2, "text format: column of the date or time")
	fs.IntVar(&f.amountCol, "amount-col", 3, "text format: column of the amount")
	fs.StringVar(&f.timeLayout, "time-layout", "2006-01-02", "text format: layout of the time column, in Go's reference-time form (20060102) or with YYYY, MM, DD, hh, mm, ss")
	fs.IntVar(&f.skip, "skip", 0, "text format: lines to skip at the start (a header)")
	fs.StringVar(&f.members, "members", "", "file of known member IDs, one per line; transactions of other members are reported and skipped")
}

// txData is a transaction file read into memory: member IDs as they
// appear in the file map to dense IDs in order of first appearance.
type txData struct {
	path     string
	loc      *time.Location
	ids      []string // dense ID → the file's member ID
	cats     []string // dense category ID → the file's category
	txs      []rfm.Tx
	channels int
	rows     int // data rows read
	bad      int // rows skipped as bad
	latest   time.Time
}

// maxBadShown bounds the bad rows printed one by one.
const maxBadShown = 20

// badRow reports one skipped row.
func (d *txData) badRow(w io.Writer, line int, format string, args ...any) {
	d.bad++
	if d.bad <= maxBadShown {
		fmt.Fprintf(w, "%s:%d: %s (row skipped)\n", d.path, line, fmt.Sprintf(format, args...))
	}
}

// summary prints what was read and skipped.
func (d *txData) summary(w io.Writer) {
	if d.bad > maxBadShown {
		fmt.Fprintf(w, "%s: ... and %d more bad rows\n", d.path, d.bad-maxBadShown)
	}
	fmt.Fprintf(w, "%s: read %d rows, skipped %d; %d transactions of %d members\n", d.path, d.rows, d.bad, len(d.txs), len(d.ids))
}

func loadTransactions(path string, f *txFlags, stderr io.Writer) (*txData, error) {
	loc, err := time.LoadLocation(f.tz)
	if err != nil {
		return nil, usagef("--tz %q: %v", f.tz, err)
	}
	var known map[string]bool
	if f.members != "" {
		if known, err = readMembers(f.members); err != nil {
			return nil, err
		}
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return readTransactions(file, path, f, loc, known, stderr)
}

func readMembers(path string) (map[string]bool, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	known := map[string]bool{}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if id := strings.TrimSpace(sc.Text()); id != "" {
			known[id] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return known, nil
}

// readTransactions reads r; known, when not nil, lists the members
// accepted.
func readTransactions(r io.Reader, path string, f *txFlags, loc *time.Location, known map[string]bool, stderr io.Writer) (*txData, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	format := f.format
	if format == "auto" {
		peek, _ := br.Peek(4096)
		first, _, _ := strings.Cut(string(peek), "\n")
		format = "text"
		if strings.Contains(first, ",") {
			format = "csv"
		}
	}
	d := &txData{path: path, loc: loc, channels: 2}
	b := &txBuilder{d: d, known: known, index: map[string]uint32{}, catIndex: map[string]uint32{}, stderr: stderr}
	var err error
	switch format {
	case "csv":
		err = b.readCSV(br)
	case "text":
		err = b.readText(br, f)
	default:
		return nil, usagef("--format %q: want csv, text or auto", f.format)
	}
	if err != nil {
		return nil, err
	}
	b.flush()
	return d, nil
}

// txBuilder turns rows into transactions, merging adjacent rows of one
// order.
type txBuilder struct {
	d        *txData
	known    map[string]bool
	index    map[string]uint32
	catIndex map[string]uint32
	stderr   io.Writer
	pending  *rfm.Tx
	order    string // the pending transaction's order ID, "" for none
}

// row is one parsed data row.
type row struct {
	line       int
	member     string
	time       time.Time
	amount     int64
	channel    rfm.Channel
	order      string
	refundOf   string
	category   string
	daysSupply int32
}

func (b *txBuilder) add(r row) {
	d := b.d
	if b.known != nil && !b.known[r.member] {
		d.badRow(b.stderr, r.line, "unknown member %q", r.member)
		return
	}
	if r.amount < 0 && r.refundOf == "" && r.order == "" {
		d.badRow(b.stderr, r.line, "negative amount without a linked order (refund_of or order)")
		return
	}
	id, ok := b.index[r.member]
	if !ok {
		if uint64(len(d.ids)) >= 1<<32-1 {
			d.badRow(b.stderr, r.line, "too many members")
			return
		}
		id = uint32(len(d.ids))
		b.index[r.member] = id
		d.ids = append(d.ids, r.member)
	}
	if len(d.txs) == 0 && b.pending == nil || r.time.After(d.latest) {
		d.latest = r.time
	}
	var line []rfm.Line
	if r.category != "" {
		c, ok := b.catIndex[r.category]
		if !ok {
			c = uint32(len(d.cats))
			b.catIndex[r.category] = c
			d.cats = append(d.cats, r.category)
		}
		line = []rfm.Line{{Category: c, Amount: r.amount, DaysSupply: r.daysSupply}}
	}
	refund := r.refundOf != "" || r.amount < 0
	// A further row of the pending order adds its amount and line.
	if p := b.pending; p != nil && !refund && r.order != "" && r.order == b.order && p.Member == id && p.RefundOf == 0 {
		p.Amount += r.amount
		p.Lines = append(p.Lines, line...)
		return
	}
	b.flush()
	tx := &rfm.Tx{Member: id, Time: r.time, Amount: r.amount, Channel: r.channel, Lines: line}
	if refund {
		link := r.refundOf
		if link == "" {
			link = r.order
		}
		tx.RefundOf = orderNumber(link)
	}
	b.pending, b.order = tx, r.order
	if refund {
		b.flush()
	}
}

func (b *txBuilder) flush() {
	if b.pending != nil {
		b.d.txs = append(b.d.txs, *b.pending)
		b.pending, b.order = nil, ""
	}
}

// orderNumber maps an order ID to the non-zero number rfm.Tx.RefundOf
// needs: the ID itself when it is a positive integer, else a hash.
func orderNumber(s string) uint64 {
	if n, err := strconv.ParseUint(s, 10, 64); err == nil && n != 0 {
		return n
	}
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h | 1
}

// csvColumns are the columns a CSV transaction file may name.
var csvColumns = []string{"member", "time", "amount", "channel", "order", "refund_of", "category", "days_supply"}

func (b *txBuilder) readCSV(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return fmt.Errorf("%s: empty file, want a header naming member,time,amount", b.d.path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", b.d.path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		for _, c := range csvColumns {
			if h == c {
				col[c] = i
			}
		}
	}
	for _, c := range csvColumns[:3] {
		if _, ok := col[c]; !ok {
			return fmt.Errorf("%s:1: header has no %q column (want member,time,amount and optionally %s)", b.d.path, c, strings.Join(csvColumns[3:], ","))
		}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				b.d.rows++
				b.d.badRow(b.stderr, pe.Line, "%v", pe.Err)
				continue
			}
			return fmt.Errorf("%s: %w", b.d.path, err)
		}
		b.d.rows++
		line, _ := cr.FieldPos(0)
		rw := row{line: line, member: get(rec, "member"), order: get(rec, "order"), refundOf: get(rec, "refund_of"), category: get(rec, "category")}
		if rw.member == "" {
			b.d.badRow(b.stderr, line, "empty member")
			continue
		}
		if rw.time, err = parseTime(get(rec, "time"), "", b.d.loc); err != nil {
			b.d.badRow(b.stderr, line, "%v", err)
			continue
		}
		if rw.amount, err = parseAmount(get(rec, "amount")); err != nil {
			b.d.badRow(b.stderr, line, "%v", err)
			continue
		}
		if rw.channel, err = parseChannel(get(rec, "channel")); err != nil {
			b.d.badRow(b.stderr, line, "%v", err)
			continue
		}
		b.d.channels = max(b.d.channels, int(rw.channel)+1)
		if s := get(rec, "days_supply"); s != "" {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil || n < 0 {
				b.d.badRow(b.stderr, line, "days_supply %q: want a whole number of days >= 0", s)
				continue
			}
			rw.daysSupply = int32(n)
		}
		b.add(rw)
	}
}

func (b *txBuilder) readText(r io.Reader, f *txFlags) error {
	if f.memberCol < 1 || f.timeCol < 1 || f.amountCol < 1 {
		return usagef("--member-col, --time-col and --amount-col count from 1")
	}
	layout := goLayout(f.timeLayout)
	need := max(f.memberCol, f.timeCol, f.amountCol)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if line <= f.skip {
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		b.d.rows++
		if len(fields) < need {
			b.d.badRow(b.stderr, line, "%d columns, want at least %d", len(fields), need)
			continue
		}
		rw := row{line: line, member: fields[f.memberCol-1]}
		var err error
		if rw.time, err = parseTime(fields[f.timeCol-1], layout, b.d.loc); err != nil {
			b.d.badRow(b.stderr, line, "%v", err)
			continue
		}
		if rw.amount, err = parseAmount(fields[f.amountCol-1]); err != nil {
			b.d.badRow(b.stderr, line, "%v", err)
			continue
		}
		b.add(rw)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", b.d.path, line+1, err)
	}
	return nil
}

// goLayout turns YYYY, MM, DD, hh, mm, ss into Go's reference time; a
// layout already in Go's form passes through.
func goLayout(s string) string {
	return strings.NewReplacer("YYYY", "2006", "MM", "01", "DD", "02", "hh", "15", "mm", "04", "ss", "05").Replace(s)
}

// parseTime reads a date (YYYY-MM-DD, local midnight in loc), a local
// date-time (YYYY-MM-DD hh:mm:ss) or RFC 3339; with a layout, only that.
func parseTime(s, layout string, loc *time.Location) (time.Time, error) {
	if layout != "" {
		t, err := time.ParseInLocation(layout, s, loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: want layout %s", s, layout)
		}
		return t, nil
	}
	for _, l := range []string{"2006-01-02", "2006-01-02 15:04:05", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want YYYY-MM-DD, YYYY-MM-DD hh:mm:ss or RFC 3339", s)
}

// parseAmount reads a decimal in currency units with at most two
// decimals ("29.33", "-5", "12.5") as minor units.
func parseAmount(s string) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("amount %q: want a decimal with at most 2 decimals", s)
	}
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, hasDot := strings.Cut(digits, ".")
	if whole == "" && frac == "" || len(frac) > 2 || (hasDot && frac == "") || len(whole) > 16 {
		return bad()
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return bad()
			}
		}
	}
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return bad()
	}
	if neg {
		n = -n
	}
	return n, nil
}

func parseChannel(s string) (rfm.Channel, error) {
	switch strings.ToLower(s) {
	case "", "offline":
		return rfm.Offline, nil
	case "online":
		return rfm.Online, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 15 {
		return 0, fmt.Errorf("channel %q: want offline, online or a number 0..15", s)
	}
	return rfm.Channel(n), nil
}

// parseDay reads a YYYY-MM-DD flag as local midnight in loc.
func parseDay(flagName, s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", s, loc)
	if err != nil {
		return time.Time{}, usagef("--%s %q: want YYYY-MM-DD", flagName, s)
	}
	return t, nil
}

// summaries builds rfm.Summaries of d's transactions in the window from
// (zero: all) to the end of the day asOf (zero: the latest transaction's
// day).
func (d *txData) summaries(from, asOf time.Time) (*rfm.Summaries, error) {
	if asOf.IsZero() {
		if len(d.txs) == 0 {
			return nil, fmt.Errorf("%s: no transactions", d.path)
		}
		l := d.latest.In(d.loc)
		asOf = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, d.loc)
	}
	// through the end of the as-of day
	end := time.Date(asOf.Year(), asOf.Month(), asOf.Day()+1, 0, 0, 0, 0, d.loc).Add(-time.Nanosecond)
	s, err := rfm.New(len(d.ids), rfm.Config{Location: d.loc, From: from, AsOf: end, Channels: d.channels})
	if err != nil {
		return nil, err
	}
	for i := range d.txs {
		if err := s.Add(&d.txs[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", d.path, err)
		}
	}
	return s, nil
}
