package trace

import "strings"

// Route turns a request target into its template: the query is dropped and
// every path segment that is an id (all digits, a UUID, or 16+ hex digits)
// becomes {id}, so /api/tasks/123?x=1 is /api/tasks/{id}. Routes are the
// stats key of analyze, so they must group what users see as one endpoint.
func Route(target string) string {
	_, target = SplitTarget(target)
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if target == "" {
		return "/"
	}
	if !needsTemplate(target) {
		return target
	}
	var b strings.Builder
	b.Grow(len(target))
	for i := 0; i < len(target); {
		j := strings.IndexByte(target[i:], '/')
		var seg string
		if j < 0 {
			seg, j = target[i:], len(target)
		} else {
			seg, j = target[i:i+j], i+j
		}
		if isID(seg) {
			b.WriteString("{id}")
		} else {
			b.WriteString(seg)
		}
		if j < len(target) {
			b.WriteByte('/')
		}
		i = j + 1
	}
	return b.String()
}

// needsTemplate is a fast check that some segment may be an id: every id
// contains a digit.
func needsTemplate(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] >= '0' && p[i] <= '9' {
			return true
		}
	}
	return false
}

// IsID says whether a path segment is one Route replaces by {id}.
func IsID(seg string) bool { return isID(seg) }

func isID(seg string) bool {
	if seg == "" {
		return false
	}
	return allDigits(seg) || isUUID(seg) || (len(seg) >= 16 && allHex(seg))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// isUUID matches the 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// SplitTarget splits a request target in absolute form (as sent to a
// proxy: http://host/path?q) into its authority and its path with the
// query; any other target is all path.
func SplitTarget(target string) (authority, path string) {
	i := strings.Index(target, "://")
	if i < 0 || strings.HasPrefix(target, "/") {
		return "", target
	}
	rest := target[i+3:]
	j := strings.IndexAny(rest, "/?")
	switch {
	case j < 0:
		return rest, "/"
	case rest[j] == '?':
		return rest[:j], "/" + rest[j:]
	}
	return rest[:j], rest[j:]
}
