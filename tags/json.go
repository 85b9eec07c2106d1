package tags

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// SetJSON sets fields from a JSON object such as
//
//	{"orders_90d": 5, "avg_basket": 86.5, "channels": ["store", "miniapp"],
//	 "rx_categories": {"diabetes": 3}, "last_order_at": "2024-03-01T10:00:00+08:00",
//	 "tenure": "720h"}
//
// Ints are JSON integers; doubles are numbers or "NaN", "+Inf", "-Inf";
// timestamps are RFC 3339 strings; durations are Go duration strings; null
// clears a field. A key the schema does not declare, or a value of the
// wrong type, is an error naming the field, and the record is left as it
// was.
func (r *Record) SetJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("member %d: decode record: %w", r.ID, err)
	}
	if dec.More() {
		return fmt.Errorf("member %d: decode record: data after the object", r.ID)
	}
	tmp := r.schema.NewRecord(r.ID)
	if err := tmp.CopyFrom(r); err != nil {
		return err
	}
	for name, raw := range m {
		if err := tmp.setJSONField(name, raw); err != nil {
			return err
		}
	}
	return r.CopyFrom(tmp)
}

func (r *Record) setJSONField(name string, raw json.RawMessage) error {
	f, ok := r.schema.byName[name]
	if !ok {
		return fmt.Errorf("member %d: field %q: %w", r.ID, name, ErrUnknownField)
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return r.Clear(f)
	}
	typ := r.schema.fields[f].Type
	bad := func(err error) error {
		return fmt.Errorf("member %d: field %q (%s): %v: %w", r.ID, name, typ, err, ErrFieldType)
	}
	unmarshal := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		return dec.Decode(v)
	}
	switch typ {
	case Int:
		v, err := jsonInt(raw)
		if err != nil {
			return bad(err)
		}
		return r.SetInt(f, v)
	case Double:
		var x any
		if err := unmarshal(&x); err != nil {
			return bad(err)
		}
		v, err := jsonDouble(x)
		if err != nil {
			return bad(err)
		}
		return r.SetDouble(f, v)
	case String:
		var s string
		if err := unmarshal(&s); err != nil {
			return bad(err)
		}
		return r.SetString(f, s)
	case Bool:
		var b bool
		if err := unmarshal(&b); err != nil {
			return bad(err)
		}
		return r.SetBool(f, b)
	case Timestamp:
		var s string
		if err := unmarshal(&s); err != nil {
			return bad(err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad(err)
		}
		return r.SetTime(f, t)
	case Duration:
		var s string
		if err := unmarshal(&s); err != nil {
			return bad(err)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return bad(err)
		}
		return r.SetDuration(f, d)
	case StringList:
		var l []string
		if err := unmarshal(&l); err != nil {
			return bad(err)
		}
		return r.SetList(f, l)
	case CountMap:
		var m map[string]json.RawMessage
		if err := unmarshal(&m); err != nil {
			return bad(err)
		}
		out := make(map[string]int64, len(m))
		for k, n := range m {
			v, err := jsonInt(n)
			if err != nil {
				return bad(fmt.Errorf("key %q: %w", k, err))
			}
			out[k] = v
		}
		return r.SetCounts(f, out)
	}
	return bad(fmt.Errorf("unknown type"))
}

// jsonInt parses a JSON integer; unlike json.Number it refuses a quoted
// one, a fraction and an exponent.
func jsonInt(raw json.RawMessage) (int64, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || (t[0] != '-' && (t[0] < '0' || t[0] > '9')) {
		return 0, fmt.Errorf("want an integer, got %.20s", t)
	}
	return strconv.ParseInt(string(t), 10, 64)
}

func jsonDouble(x any) (float64, error) {
	switch v := x.(type) {
	case json.Number:
		return strconv.ParseFloat(v.String(), 64)
	case string:
		switch v {
		case "NaN":
			return math.NaN(), nil
		case "+Inf", "Infinity":
			return math.Inf(1), nil
		case "-Inf", "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, fmt.Errorf("want a number, got %v", x)
}

// MarshalJSON encodes the record's set fields as a JSON object that
// SetJSON reads back to an equal record. The member ID is not included.
func (r *Record) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(r.schema.fields))
	for i, fd := range r.schema.fields {
		v, ok := r.Value(FieldID(i))
		if !ok {
			continue
		}
		switch x := v.(type) {
		case float64:
			switch {
			case math.IsNaN(x):
				v = "NaN"
			case math.IsInf(x, 1):
				v = "+Inf"
			case math.IsInf(x, -1):
				v = "-Inf"
			}
		case time.Time:
			v = x.Format(time.RFC3339Nano)
		case time.Duration:
			v = x.String()
		}
		m[fd.Name] = v
	}
	return json.Marshal(m)
}
