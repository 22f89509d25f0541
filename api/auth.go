package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Token is one bearer token from api.token_file.
type Token struct {
	// Name says who uses it; it is recorded as the author of changes.
	Name string
	// ReadOnly tokens may read but get 403 on changes.
	ReadOnly bool
	sum      [32]byte
}

// Tokens is the set of accepted tokens.
type Tokens []Token

// LoadTokens reads a token file: one token per line as
// "TOKEN [rw|ro] [NAME]"; blank lines and lines starting with # are
// skipped. An empty path means no tokens: every change is refused.
func LoadTokens(path string) (Tokens, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("api.token_file: %w", err)
	}
	defer f.Close()
	var out Tokens
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		t := Token{Name: fmt.Sprintf("token-line-%d", n), sum: sha256.Sum256([]byte(fields[0]))}
		if len(fields[0]) < 16 {
			return nil, fmt.Errorf("%s:%d: token shorter than 16 characters", path, n)
		}
		if len(fields) > 1 {
			switch fields[1] {
			case "rw":
			case "ro":
				t.ReadOnly = true
			default:
				return nil, fmt.Errorf("%s:%d: mode %q: want rw or ro", path, n, fields[1])
			}
		}
		if len(fields) > 2 {
			t.Name = fields[2]
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// match finds the token presented, comparing digests in constant time so
// the comparison leaks nothing about the tokens.
func (ts Tokens) match(presented string) (Token, bool) {
	sum := sha256.Sum256([]byte(presented))
	var found Token
	ok := false
	for _, t := range ts {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found, ok = t, true
		}
	}
	return found, ok
}

// requireWrite wraps a state-changing handler: 401 without a valid token,
// 403 with a read-only one, 429 after too many wrong ones (authenticate).
func (s *Server) requireWrite(h func(w http.ResponseWriter, r *http.Request, who string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, ok := s.authenticate(w, r, "a bearer token is required (api.token_file)")
		if !ok {
			return
		}
		if t.ReadOnly {
			writeError(w, http.StatusForbidden, "token "+t.Name+" is read-only")
			return
		}
		h(w, r, t.Name)
	}
}
