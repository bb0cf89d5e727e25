package demoapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// store holds the items of each kind in memory.
type store struct {
	mu    sync.RWMutex
	next  map[string]int              // kind -> the last id given
	items map[string]map[string]*item // kind -> id -> item
	uuids map[string]string           // a document's uuid (lower case) -> its id
}

// item is one task, project or document: its JSON fields and its version,
// 1 when created and one more on each update.
type item struct {
	fields  map[string]any
	version int
}

// fixed are the fields the server sets: a client's value for them is
// ignored on update.
var fixed = map[string]bool{"id": true, "created_at": true, "owner": true, "uuid": true}

// newStore makes a store whose ids of every kind count from base, with the
// seed items; the seed tasks belong to owners in turn (none if empty).
func newStore(base int, owners []string) *store {
	st := &store{next: map[string]int{}, items: map[string]map[string]*item{}, uuids: map[string]string{}}
	for _, kind := range []string{"tasks", "projects", "documents"} {
		st.next[kind] = base - 1
		st.items[kind] = map[string]*item{}
	}
	statuses := []string{"todo", "in_progress", "done"}
	for i := 1; i <= 30; i++ {
		owner := ""
		if len(owners) > 0 {
			owner = owners[i%len(owners)]
		}
		st.create("tasks", map[string]any{"title": fmt.Sprintf("Task %d", i), "status": statuses[i%3], "project_id": base + i%5}, owner)
		if i <= 5 {
			st.create("projects", map[string]any{"title": fmt.Sprintf("Project %d", i), "status": "active"}, "")
		}
		if i <= 20 {
			st.create("documents", map[string]any{"title": fmt.Sprintf("Document %d", i),
				"content": strings.Repeat(fmt.Sprintf("Notes on topic %d for the quarterly plan. ", i), 1+i%7)}, "")
		}
	}
	return st
}

// etag is the strong ETag of an item's version: "tasks-1234-v2", quoted.
func etag(kind, id string, version int) string {
	return fmt.Sprintf(`"%s-%s-v%d"`, kind, id, version)
}

// matches says whether an If-Match header's tags (comma separated; ""
// when there is none) allow changing an item whose ETag is current. The
// comparison is strong: a weak tag (W/"...") never matches.
func matches(ifMatch, current string) bool {
	if ifMatch == "" {
		return true
	}
	for _, tag := range strings.Split(ifMatch, ",") {
		if tag = strings.TrimSpace(tag); tag == "*" || tag == current {
			return true
		}
	}
	return false
}

// stale is the 412 of an If-Match that does not match.
func stale(ifMatch, current string) apiError {
	return apiError{http.StatusPreconditionFailed, fmt.Sprintf("If-Match %s does not match the current ETag %s", ifMatch, current)}
}

// create adds an item made of fields (owned by owner, if not "") and
// returns it with its ETag. A document's optional uuid must be a UUID no
// other document has.
func (st *store) create(kind string, fields map[string]any, owner string) (map[string]any, string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	uuid, err := st.newUUID(kind, fields)
	if err != nil {
		return nil, "", err
	}
	st.next[kind]++
	id := strconv.Itoa(st.next[kind])
	it := clone(fields)
	it["id"] = st.next[kind]
	delete(it, "owner")
	if owner != "" {
		it["owner"] = owner
	}
	if _, ok := it["status"]; !ok {
		it["status"] = "todo"
	}
	it["created_at"] = time.Now().UTC().Format(time.RFC3339)
	if uuid != "" {
		st.uuids[uuid] = id
	}
	st.items[kind][id] = &item{fields: it, version: 1}
	return clone(it), etag(kind, id, 1), nil
}

// newUUID checks a new document's uuid field and returns it in lower case
// ("" if it has none, or the item is not a document).
func (st *store) newUUID(kind string, fields map[string]any) (string, error) {
	v, ok := fields["uuid"]
	if kind != "documents" || !ok {
		return "", nil
	}
	s, _ := v.(string)
	if !isUUID(s) {
		return "", apiError{http.StatusUnprocessableEntity, fmt.Sprintf("uuid %v is not a UUID (like 123e4567-e89b-12d3-a456-426614174000)", v)}
	}
	s = strings.ToLower(s)
	if id, taken := st.uuids[s]; taken {
		return "", apiError{http.StatusConflict, fmt.Sprintf("uuid %s is taken by document %s", s, id)}
	}
	return s, nil
}

// isUUID says whether s is a UUID in its text form: 8-4-4-4-12 hex digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", c):
			return false
		}
	}
	return true
}

// get returns an item and its ETag.
func (st *store) get(kind, id string) (map[string]any, string, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	it, ok := st.items[kind][id]
	if !ok {
		return nil, "", notFound(kind)
	}
	return clone(it.fields), etag(kind, id, it.version), nil
}

// update changes an item's fields (replace: all of them but the fixed
// ones) if ifMatch allows, and returns it with its new ETag.
func (st *store) update(kind, id string, fields map[string]any, replace bool, ifMatch string) (map[string]any, string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	it, ok := st.items[kind][id]
	if !ok {
		return nil, "", notFound(kind)
	}
	if current := etag(kind, id, it.version); !matches(ifMatch, current) {
		return nil, "", stale(ifMatch, current)
	}
	if replace {
		kept := map[string]any{}
		for k := range fixed {
			if v, ok := it.fields[k]; ok {
				kept[k] = v
			}
		}
		it.fields = kept
	}
	for k, v := range fields {
		if !fixed[k] {
			it.fields[k] = v
		}
	}
	it.fields["updated_at"] = time.Now().UTC().Format(time.RFC3339)
	it.version++
	return clone(it.fields), etag(kind, id, it.version), nil
}

// remove deletes an item if ifMatch allows.
func (st *store) remove(kind, id, ifMatch string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	it, ok := st.items[kind][id]
	if !ok {
		return notFound(kind)
	}
	if current := etag(kind, id, it.version); !matches(ifMatch, current) {
		return stale(ifMatch, current)
	}
	if uuid, ok := it.fields["uuid"].(string); ok && kind == "documents" {
		delete(st.uuids, strings.ToLower(uuid))
	}
	delete(st.items[kind], id)
	return nil
}

// list returns up to limit items of kind (with status, if not ""), by id.
func (st *store) list(kind, status string, limit int) []map[string]any {
	st.mu.RLock()
	defer st.mu.RUnlock()
	ids := st.ids(kind, func(it *item) bool { return status == "" || it.fields["status"] == status })
	out := make([]map[string]any, 0, min(limit, len(ids)))
	for _, id := range ids[:min(limit, len(ids))] {
		out = append(out, clone(st.items[kind][strconv.Itoa(id)].fields))
	}
	return out
}

// newest returns owner's n newest items of kind, newest first.
func (st *store) newest(kind, owner string, n int) []map[string]any {
	st.mu.RLock()
	defer st.mu.RUnlock()
	ids := st.ids(kind, func(it *item) bool { return it.fields["owner"] == owner })
	slices.Reverse(ids)
	out := make([]map[string]any, 0, min(n, len(ids)))
	for _, id := range ids[:min(n, len(ids))] {
		out = append(out, clone(st.items[kind][strconv.Itoa(id)].fields))
	}
	return out
}

// ids returns the ids of the items of kind that keep says to, in order;
// the caller holds st.mu.
func (st *store) ids(kind string, keep func(*item) bool) []int {
	ids := make([]int, 0, len(st.items[kind]))
	for k, it := range st.items[kind] {
		if keep(it) {
			n, _ := strconv.Atoi(k)
			ids = append(ids, n)
		}
	}
	slices.Sort(ids)
	return ids
}

func (st *store) search(q string, limit int) []map[string]any {
	st.mu.RLock()
	defer st.mu.RUnlock()
	q = strings.ToLower(q)
	var out []map[string]any
	for _, kind := range []string{"documents", "tasks", "projects"} {
		for _, it := range st.items[kind] {
			if strings.Contains(strings.ToLower(fmt.Sprint(it.fields["title"], " ", it.fields["content"])), q) {
				out = append(out, map[string]any{"kind": kind, "id": it.fields["id"], "title": it.fields["title"]})
			}
		}
	}
	slices.SortFunc(out, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["kind"], a["id"]), fmt.Sprint(b["kind"], b["id"]))
	})
	return out[:min(limit, len(out))]
}

func clone(it map[string]any) map[string]any {
	if it == nil {
		return nil
	}
	out := make(map[string]any, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}
