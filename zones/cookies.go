package zones

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// cookieSecretLen is the length of a DNS cookie server secret (128 bits,
// RFC 9018 §4.2).
const cookieSecretLen = 16

// LoadCookieSecrets reads dns.cookies.secret_file: the current secret in
// hex on the first line and, optionally, the previous one on the second
// (still accepted while cookies made with it expire). Blank lines and
// lines starting with # are skipped.
func LoadCookieSecrets(path string) (cur, prev []byte, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(b) > 4096 {
		return nil, nil, fmt.Errorf("%s: %d bytes: a secret file is two lines of hex", path, len(b))
	}
	var keys [][]byte
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := hex.DecodeString(line)
		if err != nil || len(k) != cookieSecretLen {
			return nil, nil, fmt.Errorf("%s:%d: want %d bytes in hex (32 hex digits)", path, i+1, cookieSecretLen)
		}
		keys = append(keys, k)
	}
	switch len(keys) {
	case 0:
		return nil, nil, fmt.Errorf("%s: no secret in it", path)
	case 1:
		return keys[0], nil, nil
	case 2:
		return keys[0], keys[1], nil
	}
	return nil, nil, fmt.Errorf("%s: %d secrets: want the current one and at most the previous one", path, len(keys))
}
