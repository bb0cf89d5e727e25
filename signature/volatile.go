package signature

import (
	"strings"
)

// Volatile values: times, ids and tokens differ between two servers
// that both answer right (another start time, another id sequence,
// another session), so a value found to differ there says nothing. A
// path is volatile when its key's name says it holds one, or when a value
// found there has one's form. The recording cannot tell: a server's start
// time is the same in all its answers, and a replay against another
// server would report it on every one.

// volatileName says whether a key names a time, an id or a token:
// "id", "user_id", "userId", "ids", "uuid", "created_at", "updatedAt",
// "timestamp", "etag", "token", "nonce", ...
func volatileName(key string) bool {
	if key == "" {
		return false
	}
	camel := strings.HasSuffix(key, "Id") || strings.HasSuffix(key, "Ids") || strings.HasSuffix(key, "At") ||
		strings.HasSuffix(key, "Time") || strings.HasSuffix(key, "Token")
	k := strings.ToLower(key)
	for _, s := range []string{"_id", "-id", "_ids", "-ids", "_at", "-at", "_time", "-time", "_ts", "_date", "token", "uuid", "guid", "nonce", "etag", "timestamp", "expires", "expiry"} {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	switch k {
	case "id", "ids", "ts", "time", "date", "now", "created", "updated", "modified", "session", "sid", "signature", "csrf", "request", "trace", "span":
		return true
	}
	return camel
}

// volatileText says whether a value has the form of a time, an id or a
// token: an ISO 8601 date or time, a UUID, 16 or more hex digits, a long
// mix of letters and digits without spaces; a number of Unix time's size
// (10 to 13 integer digits), or of 16 digits or more.
func volatileText(t uint8, b []byte) bool {
	switch t {
	case typeNumber:
		n := 0
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			n++
		}
		return n >= 10
	case typeString:
	default:
		return false
	}
	if len(b) >= 10 && digits(b[0:4]) && b[4] == '-' && digits(b[5:7]) && b[7] == '-' && digits(b[8:10]) {
		return true // 2026-12-01, 2026-12-01T10:00:00Z
	}
	if len(b) >= 8 && digits(b[0:2]) && b[2] == ':' && digits(b[3:5]) && b[5] == ':' && digits(b[6:8]) {
		return true // 10:00:00
	}
	hex, letters, nums, other := 0, 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			nums++
			hex++
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			letters++
			hex++
		case c >= 'g' && c <= 'z' || c >= 'G' && c <= 'Z':
			letters++
		case c == '-' || c == '_' || c == '.' || c == '=' || c == '+' || c == '/' || c == ':':
		default:
			other++
		}
	}
	switch {
	case other > 0:
		return false // a space, or text of other scripts: words
	case hex >= 16 && hex == letters+nums && nums > 0:
		return true // a UUID, a hash, a hex id
	case len(b) >= 20 && letters > 0 && nums > 0:
		return true // a token
	}
	return false
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
