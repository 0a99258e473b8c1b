package diag

import (
	"bytes"
	"slices"
	"testing"
)

// naiveStarts is every start of lit in s, by brute force.
func naiveStarts(s []byte, lit []byte, fold bool) []int {
	var out []int
	for i := 0; i+len(lit) <= len(s); i++ {
		w := s[i : i+len(lit)]
		if bytes.Equal(w, lit) || fold && bytes.Equal(bytes.ToLower(asciiOnly(w)), lit) {
			out = append(out, i)
		}
	}
	return out
}

// asciiOnly keeps bytes.ToLower from folding non-ASCII runes: needles fold
// ASCII letters only.
func asciiOnly(w []byte) []byte {
	out := append([]byte(nil), w...)
	for i, c := range out {
		if c >= 0x80 {
			out[i] = 0
		}
	}
	return out
}

func needleStarts(n needle, s []byte) []int {
	var out []int
	n.each(s, func(at int) bool { out = append(out, at); return true })
	slices.Sort(out)
	return out
}

func TestNeedlesFindEveryRulesLiteral(t *testing.T) {
	for _, tc := range []struct {
		s    string
		rule string
		want []int
	}{
		{"Authorization: BEARER abc; bearer x; BeArEr", "bearer-token", []int{15, 27, 37}},
		{"PASSWORD=x Passwd: y password", "password-field", []int{0, 11, 21}},
		{"AWS_SECRET_ACCESS_KEY=1", "aws-secret-key", []int{3}},
		{"key=AIzaSy", "gcp-api-key", []int{4}},
		{"xeyJ eyJ", "jwt", []int{1, 5}},
	} {
		var n needle
		for _, ru := range rules {
			if ru.name == tc.rule {
				n = ru.needles[0]
			}
		}
		if got := needleStarts(n, []byte(tc.s)); !slices.Equal(got, tc.want) {
			t.Errorf("%s in %q: %v, want %v", tc.rule, tc.s, got, tc.want)
		}
	}
}

// FuzzNeedle: the anchored search finds exactly what brute force finds,
// for every rule's needle, in either case where the rule folds.
//
//	go test -fuzz FuzzNeedle ./pkg/diag
func FuzzNeedle(f *testing.F) {
	f.Add([]byte("Bearer x PASSWD= aws_SECRET_access_KEY AKIA eyJ @ -data AIza"))
	f.Add([]byte("bbbbearer passsw"))
	f.Fuzz(func(t *testing.T, s []byte) {
		needles := []needle{beginKeyNeedle}
		for _, ru := range rules {
			needles = append(needles, ru.needles...)
		}
		for _, n := range needles {
			got, want := needleStarts(n, s), naiveStarts(s, n.lit, n.fold)
			if !slices.Equal(got, want) {
				t.Fatalf("needle %q in %q: %v, want %v", n.lit, s, got, want)
			}
			if n.in(s) != (len(want) > 0) {
				t.Fatalf("needle %q in %q: in() = %v", n.lit, s, n.in(s))
			}
		}
	})
}
