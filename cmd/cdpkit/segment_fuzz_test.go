package main

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// FuzzMemberTable reads arbitrary bytes as a member table: no panic, at
// most one member per data row, and every column that loaded is a field.
func FuzzMemberTable(f *testing.F) {
	f.Add([]byte(wantTagsCSV), "")
	f.Add([]byte("member,vip,tier,spend\n1,true,gold,500\n2,false,silver,\n2,true,gold,1\nx,1,2,3\n"), "vip=tag")
	f.Add([]byte("member,a\n1,\"\x01\"\n"), "a=enum")
	f.Fuzz(func(t *testing.T, data []byte, types string) {
		ty, err := parseTypes(types)
		if err != nil {
			return
		}
		ix, err := loadTable(strings.NewReader(string(data)), "t.csv", "member", ty, nil, &badLines{w: io.Discard, path: "t.csv"}, io.Discard)
		if err != nil {
			return
		}
		v := ix.View()
		assert.LessOrEqual(t, v.MemberCount(), uint64(strings.Count(string(data), "\n")))
	})
}
