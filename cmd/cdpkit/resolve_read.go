package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cdpkit/cdpkit/identity"
)

// obsRecord is one observation read from a file.
type obsRecord struct {
	line  int // where it starts in the file
	obs   identity.Observation
	truth int64 // the true member (cdpkit gen's true_member), or -1
}

// badLines reports input that was skipped or set aside, as file:line,
// the first maxBadShown one by one.
// It is safe for concurrent use.
type badLines struct {
	w    io.Writer
	path string
	mu   sync.Mutex
	n    int
}

func (b *badLines) report(line int, format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	if b.n <= maxBadShown {
		fmt.Fprintf(b.w, "%s:%d: %s\n", b.path, line, fmt.Sprintf(format, args...))
	}
}

// more says how many reports were not shown.
func (b *badLines) more() {
	if b.n > maxBadShown {
		fmt.Fprintf(b.w, "%s: ... and %d more\n", b.path, b.n-maxBadShown)
	}
}

// flexString is a JSON string or number: event IDs and identifier values
// arrive as either, depending on the feed.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	// The decoder has checked b is one valid JSON value, so a string
	// without escapes is its bytes, and a number its text, as json.Number
	// keeps it. This is most of the decoding of an observations file.
	switch {
	case len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b):
		*f = flexString(b[1 : len(b)-1])
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*f = flexString(b)
	default:
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	return nil
}

// obsJSON is one line of an observations file as cdpkit gen writes it.
// Other keys are ignored, so feeds may carry more.
type obsJSON struct {
	Event  flexString `json:"event"`
	Source string     `json:"source"`
	Time   string     `json:"time"`
	IDs    []struct {
		Kind  string     `json:"kind"`
		Value flexString `json:"value"`
		Scope string     `json:"scope"`
	} `json:"ids"`
	TrueMember *int64 `json:"true_member"`
}

// lineMsg is a problem found at a line of the input.
type lineMsg struct {
	line int
	msg  string
}

// obsChunk is a run of consecutive observations of the input with the
// problems found reading them, both in file order.
type obsChunk struct {
	recs []obsRecord
	msgs []lineMsg
	// setAside lists the undeclared kinds of identifiers set aside.
	setAside []string
	ready    chan struct{} // closed once the rest is complete
}

func (c *obsChunk) report(line int, format string, args ...any) {
	c.msgs = append(c.msgs, lineMsg{line, fmt.Sprintf(format, args...)})
}

// obsReader reads observations from JSON lines or CSV.
type obsReader struct {
	path   string
	loc    *time.Location
	format string // jsonl or csv
	br     *bufio.Reader
	csv    func(*obsRecord, *obsChunk) (bool, error) // the next CSV observation
}

// newObsReader reads format "jsonl", "csv" or "auto" (JSON lines when the
// first non-blank character is '{').
func newObsReader(r io.Reader, path, format string, loc *time.Location) (*obsReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if format == "auto" {
		format = "csv"
		peek, _ := br.Peek(4096)
		if t := bytes.TrimLeft(peek, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
			format = "jsonl"
		}
	}
	o := &obsReader{path: path, loc: loc, format: format, br: br}
	switch format {
	case "jsonl":
	case "csv":
		next, err := o.csvRows(br)
		if err != nil {
			return nil, err
		}
		o.csv = next
	default:
		return nil, usagef("--format %q: want jsonl, csv or auto", format)
	}
	return o, nil
}

// chunks reads the input on a goroutine of its own and delivers chunks of
// up to size observations in file order; JSON lines are decoded by a
// worker per core, which is most of the cost of reading them. prep, if not
// nil, runs on each observation read, on a worker. After the channel is
// closed, the returned function gives the error that stopped reading, if
// any. Cancelling ctx stops the reading early.
func (o *obsReader) chunks(ctx context.Context, size int, prep func(*obsRecord, *obsChunk)) (<-chan *obsChunk, func() error) {
	out := make(chan *obsChunk, 2*runtime.GOMAXPROCS(0))
	var readErr error
	send := func(c *obsChunk) bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if o.format == "csv" {
		go func() {
			defer close(out)
			for {
				c := &obsChunk{ready: make(chan struct{})}
				var ok bool
				for len(c.recs) < size {
					var rec obsRecord
					if ok, readErr = o.csv(&rec, c); !ok || readErr != nil {
						break
					}
					if prep != nil {
						prep(&rec, c)
					}
					c.recs = append(c.recs, rec)
				}
				close(c.ready)
				if (len(c.recs) > 0 || len(c.msgs) > 0) && !send(c) {
					return
				}
				if len(c.recs) < size {
					return
				}
			}
		}()
		return out, func() error { return readErr }
	}

	type job struct {
		c     *obsChunk
		text  []byte
		lines []int // line number of each text line
		ends  []int // end offset of each in text
	}
	jobs := make(chan job, runtime.GOMAXPROCS(0))
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			var scratch obsJSON
			for j := range jobs {
				start := 0
				for i, end := range j.ends {
					var rec obsRecord
					if o.parseJSON(j.text[start:end], j.lines[i], &scratch, &rec, j.c) {
						if prep != nil {
							prep(&rec, j.c)
						}
						j.c.recs = append(j.c.recs, rec)
					}
					start = end
				}
				close(j.c.ready)
			}
		}()
	}
	go func() {
		defer close(out)
		defer func() { close(jobs); workers.Wait() }()
		sc := bufio.NewScanner(o.br)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		line := 0
		j := job{c: &obsChunk{ready: make(chan struct{})}}
		flush := func() bool {
			if len(j.ends) == 0 {
				return true
			}
			jobs <- j
			ok := send(j.c)
			j = job{c: &obsChunk{ready: make(chan struct{})}}
			return ok
		}
		for sc.Scan() {
			line++
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 || text[0] == '#' {
				continue
			}
			j.text = append(j.text, text...)
			j.lines = append(j.lines, line)
			j.ends = append(j.ends, len(j.text))
			if len(j.ends) == size && !flush() {
				return
			}
		}
		if err := sc.Err(); err != nil {
			readErr = fmt.Errorf("%s:%d: %w", o.path, line+1, err)
		}
		flush()
	}()
	return out, func() error { return readErr }
}

// maxLine bounds one line of JSON: an observation carries at most 255
// identifiers of at most 255 bytes each.
const maxLine = 1 << 20

// parseJSON decodes one line into rec, or reports why it cannot.
func (o *obsReader) parseJSON(text []byte, line int, j *obsJSON, rec *obsRecord, c *obsChunk) bool {
	// Reuse the identifier slice, zeroed: Unmarshal leaves a key the line
	// lacks (scope) as it found it.
	ids := j.IDs[:cap(j.IDs)]
	clear(ids)
	*j = obsJSON{IDs: ids[:0]}
	if err := json.Unmarshal(text, j); err != nil {
		c.report(line, "%s (observation skipped)", jsonErrText(err))
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time) // the common case first
	if err != nil {
		if t, err = parseTime(j.Time, "", o.loc); err != nil {
			c.report(line, "%v (observation skipped)", err)
			return false
		}
	}
	*rec = obsRecord{line: line, truth: -1, obs: identity.Observation{EventID: string(j.Event), Source: j.Source, Time: t,
		Identifiers: make([]identity.Identifier, 0, len(j.IDs))}}
	for _, id := range j.IDs {
		rec.obs.Identifiers = append(rec.obs.Identifiers, identity.Identifier{Kind: id.Kind, Value: string(id.Value), Scope: id.Scope})
	}
	if j.TrueMember != nil {
		if *j.TrueMember < 0 || *j.TrueMember > 1<<32-1 {
			c.report(line, "true_member %d: want a member ID 0..%d (observation skipped)", *j.TrueMember, uint32(1<<32-1))
			return false
		}
		rec.truth = *j.TrueMember
	}
	return true
}

// jsonErrText turns a decoding error into a short message.
func jsonErrText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s: got a JSON %s, want %s", te.Field, te.Value, jsonTypeName(te.Type.String()))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// obsColumns are the columns of an observations CSV file; event, time,
// kind and value are required.
var obsColumns = []string{"event", "time", "kind", "value", "source", "scope", "true_member"}

func (o *obsReader) csvRows(br *bufio.Reader) (func(*obsRecord, *obsChunk) (bool, error), error) {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return func(*obsRecord, *obsChunk) (bool, error) { return false, nil }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		for _, c := range obsColumns {
			if h == c {
				col[c] = i
			}
		}
	}
	for _, c := range obsColumns[:4] {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s:1: header has no %q column (want event,time,kind,value and optionally source,scope,true_member)", o.path, c)
		}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	// Rows of one event are consecutive; the observation is complete when
	// a row of another event (or the end) arrives.
	var pending *obsRecord
	var pendingTime, pendingTruth string
	done := false
	return func(out *obsRecord, c *obsChunk) (bool, error) {
		for !done {
			rec, err := cr.Read()
			if err == io.EOF {
				done = true
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					c.report(pe.Line, "%v (row skipped)", pe.Err)
					continue
				}
				return false, fmt.Errorf("%s: %w", o.path, err)
			}
			line, _ := cr.FieldPos(0)
			event, ts, truth := get(rec, "event"), get(rec, "time"), get(rec, "true_member")
			id := identity.Identifier{Kind: get(rec, "kind"), Value: get(rec, "value"), Scope: get(rec, "scope")}
			if id.Kind == "" {
				c.report(line, "empty kind (row skipped)")
				continue
			}
			if pending != nil && event != "" && pending.obs.EventID == event {
				if ts != pendingTime || get(rec, "source") != pending.obs.Source || truth != pendingTruth {
					c.report(line, "event %q: time, source and true_member must be the same on every row of an event (row skipped)", event)
					continue
				}
				pending.obs.Identifiers = append(pending.obs.Identifiers, id)
				continue
			}
			t, err := parseTime(ts, "", o.loc)
			if err != nil {
				c.report(line, "%v (row skipped)", err)
				continue
			}
			next := &obsRecord{line: line, truth: -1, obs: identity.Observation{EventID: event, Source: get(rec, "source"), Time: t,
				Identifiers: []identity.Identifier{id}}}
			if truth != "" {
				n, err := strconv.ParseUint(truth, 10, 32)
				if err != nil {
					c.report(line, "true_member %q: want a member ID (row skipped)", truth)
					continue
				}
				next.truth = int64(n)
			}
			prev := pending
			pending, pendingTime, pendingTruth = next, ts, truth
			if prev != nil {
				*out = *prev
				return true, nil
			}
		}
		if pending != nil {
			*out = *pending
			pending = nil
			return true, nil
		}
		return false, nil
	}, nil
}
