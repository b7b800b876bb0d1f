package callflow

import (
	"bytes"
	"crypto/rand"
	"regexp"
	"testing"
	"time"
)

var idPattern = regexp.MustCompile(`^lk[0-9a-hjkmnp-tv-z]{18}-[acpt][1-9][0-9]*$`)

// Run prefixes never repeat across restarts: a later start sorts after an earlier
// one even when the random part is the same, and two starts in the same millisecond
// differ by their random part.
func TestIDPrefixCollisionSafeAcrossRestarts(t *testing.T) {
	at := time.Date(2026, 12, 3, 19, 0, 0, 0, time.UTC)
	same := func() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{0xa5}, 16)) }
	tests := []struct {
		name        string
		t1, t2      time.Time
		r1, r2      func() *bytes.Reader
		wantOrdered bool // p1 < p2
	}{
		{"restart a millisecond later, same random draw", at, at.Add(time.Millisecond), same, same, true},
		{"restart a day later, same random draw", at, at.Add(24 * time.Hour), same, same, true},
		{"same millisecond, other random draw", at, at, same, func() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{0x01}, 16)) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p1, err1 := newIDPrefix(tt.t1, tt.r1())
			p2, err2 := newIDPrefix(tt.t2, tt.r2())
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if p1 == p2 {
				t.Fatalf("prefixes collide: %s", p1)
			}
			if tt.wantOrdered && p1 >= p2 {
				t.Errorf("later start %s does not sort after %s", p2, p1)
			}
		})
	}
	if _, err := newIDPrefix(at, bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("short random read accepted")
	}
}

// Ids are short and readable: prefix, kind, counter.
func TestNewIDFormat(t *testing.T) {
	p, err := newIDPrefix(time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &Controller{prefix: p}
	seen := map[string]bool{}
	for _, kind := range []string{"c", "a", "t", "p", "c"} {
		id := c.newID(kind)
		if !idPattern.MatchString(id) || len(id) > 26 || seen[id] {
			t.Errorf("id %q: want %s, at most 26 characters, unique", id, idPattern)
		}
		seen[id] = true
	}
}

func BenchmarkNewID(b *testing.B) {
	p, _ := newIDPrefix(time.Now(), rand.Reader)
	c := &Controller{prefix: p}
	for b.Loop() {
		_ = c.newID("c")
	}
}
