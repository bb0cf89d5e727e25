package signature

import (
	"fmt"
	"strings"
	"testing"
)

// order is one order of a list answer, as the demo shop writes it; seed
// varies its ids and timestamps, as they vary between answers.
type order struct {
	seed   int
	coupon bool // "coupon" a string, else null
	owner  bool // has its "owner"
}

func (o order) json() string {
	owner := ""
	if o.owner {
		owner = fmt.Sprintf(`,"owner":{"id":%d,"name":"User %d","email":"u%d@example.com"}`, 40000+o.seed*7, o.seed, o.seed)
	}
	coupon := "null"
	if o.coupon {
		coupon = fmt.Sprintf(`"WINTER%d"`, o.seed%30)
	}
	return fmt.Sprintf(`{"id":"ord_%08x","created_at":"2026-12-01T%02d:%02d:%02d.%03dZ","state":"%s","total":{"amount":%d,"currency":"EUR"}%s,"lines":[{"sku":"SKU-%d","qty":%d,"price":%d}],"coupon":%s,"gift":%v}`,
		0x8f3a2c71+o.seed*13, o.seed%24, o.seed%60, (o.seed*7)%60, (o.seed*37)%1000, []string{"paid", "shipped", "refunded"}[o.seed%3],
		990+o.seed*10, owner, o.seed%50, 1+o.seed%3, 330+o.seed, coupon, o.seed%2 == 0)
}

// ordersAnswer is a list answer of n orders; extra is put before the
// closing brace, as a change of the live server would.
func ordersAnswer(seed, n int, status, extra string) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(order{seed: seed*100 + i, coupon: (seed+i)%2 == 0, owner: true}.json())
	}
	fmt.Fprintf(&b, `],"count":%d,"next":"/v1/orders?cursor=c%d","status":"%s"%s}`, n, seed, status, extra)
	return []byte(b.String())
}

func sigOf(body string) Signature { return Of(testKey, jsonType, []byte(body), false) }

// learned is a model of the orders route that saw recorded answers 0..n-1.
func learned(n int) *Model {
	var m Model
	for seed := range n {
		m.Learn(200, Of(testKey, jsonType, ordersAnswer(seed, 2+seed%3, "ok", ""), false))
	}
	return &m
}

func TestDiffWords(t *testing.T) {
	m := learned(6)
	rec := Of(testKey, jsonType, ordersAnswer(0, 2, "ok", ""), false)
	html := headers("Content-Type", "text/html")
	page := func(s string) Signature { return Of(testKey, html, []byte(s), false) }
	var pages Model
	for range MinStable {
		pages.Learn(200, page("<p>Welcome</p>"))
	}

	for _, c := range []struct {
		name       string
		m          *Model
		recStatus  int32
		rec        Signature
		liveStatus int32
		live       Signature
		want       string
	}{
		{"same", m, 200, rec, 200, rec, ""},
		{"noise only", m, 200, rec, 200, Of(testKey, jsonType, ordersAnswer(77, 3, "ok", ""), false), ""},
		{"status", m, 200, rec, 302, Signature{Kind: KindEmpty, Class: "0"}, "status 200->302"},
		{"status wins over all", m, 200, rec, 500, page("<h1>oops</h1>"), "status 200->500"},
		{"no answer recorded", m, 0, Signature{}, 200, rec, ""},
		{"type", m, 200, rec, 200, Of(testKey, headers("Content-Type", "application/vnd.shop+json"), ordersAnswer(1, 2, "ok", ""), false), "type application/json->application/vnd.shop+json"},
		{"type and kind", m, 200, rec, 200, page("<p>Sign in</p>"), "type application/json->text/html (+1 more)"},
		{"no type", m, 200, rec, 200, Of(testKey, nil, ordersAnswer(1, 2, "ok", ""), false), "type application/json->none"},
		{"kind", m, 200, rec, 200, Of(testKey, jsonType, ordersAnswer(1, 2, "ok", "}"), false), "kind json->invalid"},
		{"kind empty", m, 200, rec, 200, Of(testKey, jsonType, nil, false), "kind json->empty"},
		{"missing", m, 200, rec, 200, sigOf(strings.ReplaceAll(string(ordersAnswer(1, 2, "ok", "")), `"next":`, `"prev":`)), "missing $.next (+1 more)"},
		{"paths under a missing one count with it", m, 200, rec, 200, sigOf(`{"items":[{"id":"x"}],"count":1,"next":"/x","status":"ok"}`), "missing $.items[].coupon (+6 more)"},
		{"type change", m, 200, rec, 200, sigOf(strings.Replace(string(ordersAnswer(1, 2, "ok", "")), `"count":2`, `"count":"2"`, 1)), "type $.count number->string"},
		{"added", m, 200, rec, 200, Of(testKey, jsonType, ordersAnswer(1, 2, "ok", `,"debug":{"sql":"select 1","ms":3}`), false), "added $.debug"},
		{"value", m, 200, rec, 200, Of(testKey, jsonType, ordersAnswer(1, 2, "error", ""), false), "value $.status"},
		{"most important first", m, 200, rec, 200, sigOf(`{"items":[],"count":"0","next":null,"status":"error","debug":1}`), "missing $.items[] (+4 more)"},
		{"class", &pages, 200, page("<p>Welcome</p>"), 200, page(strings.Repeat("<p>Welcome</p>", 100000)), "class <100->>=1M"},
		{"class of a cut body is at least", &pages, 200, page("<p>Welcome</p>"), 200, Of(testKey, html, []byte(strings.Repeat("<p>Welcome</p>", 10)), true), "class <100-><1K"},
		{"class of a cut body is no more", &pages, 200, Of(testKey, html, []byte(strings.Repeat("<p>Welcome</p>", 10)), true), 200, page(strings.Repeat("<p>Welcome</p>", 100)), ""},
		{"body", &pages, 200, page("<p>Welcome</p>"), 200, page("<p>Bienvenue</p>"), "body"},
		{"body of a route that varies", m, 200, page("<p>Welcome</p>"), 200, page("<p>Bienvenue</p>"), ""},
		{"recorded not looked at", m, 200, Signature{Type: "application/json", Kind: KindUnknown}, 200, page("x"), "type application/json->text/html"},
		{"live not looked at", m, 200, rec, 200, Signature{Type: "application/json", Kind: KindUnknown}, ""},
		{"recorded before signatures", m, 200, Signature{}, 200, page("x"), ""},
		{"no model", nil, 200, rec, 200, Of(testKey, jsonType, ordersAnswer(1, 2, "ok", `,"debug":true`), false), "added $.debug"},
		{"empty model", &Model{}, 200, rec, 200, Of(testKey, jsonType, ordersAnswer(1, 2, "error", `,"debug":true`), false), "added $.debug"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.m.Diff(c.recStatus, c.rec, c.liveStatus, c.live); got != c.want {
				t.Errorf("Diff = %q, want %q", got, c.want)
			}
		})
	}
}

// What varies between the recorded answers of a route is noise: ids,
// timestamps, counts, optional fields, a field that is sometimes null.
func TestDiffNoise(t *testing.T) {
	m := learned(MinStable)
	rec := Of(testKey, jsonType, ordersAnswer(2, 4, "ok", ""), false)
	for seed := 100; seed < 120; seed++ {
		live := Of(testKey, jsonType, ordersAnswer(seed, 1+seed%5, "ok", ""), false)
		if d := m.Diff(200, rec, 200, live); d != "" {
			t.Fatalf("answer %d: %q", seed, d)
		}
	}
	// No coupon at all this time ("null" only, where it was "null|string"):
	// the model saw null there.
	live := sigOf(`{"items":[` + order{seed: 5, owner: true}.json() + `],"count":1,"next":"/n","status":"ok"}`)
	if d := m.Diff(200, rec, 200, live); d != "" {
		t.Errorf("coupons all null: %q", d)
	}
	// The owner is optional when a recorded answer lacked it.
	m.Learn(200, sigOf(`{"items":[`+order{seed: 9}.json()+`],"count":1,"next":"/n","status":"ok"}`))
	live = sigOf(`{"items":[` + order{seed: 5}.json() + `],"count":1,"next":"/n","status":"ok"}`)
	if d := m.Diff(200, rec, 200, live); d != "" {
		t.Errorf("no owner, which the recording had too: %q", d)
	}
	// "status" was "ok" in every recorded answer.
	if d := m.Diff(200, rec, 200, Of(testKey, jsonType, ordersAnswer(3, 2, "error", ""), false)); d != "value $.status" {
		t.Errorf("status error: %q", d)
	}
	// Fewer than MinStable answers say nothing of values.
	few := learned(MinStable - 1)
	if d := few.Diff(200, rec, 200, Of(testKey, jsonType, ordersAnswer(3, 2, "error", ""), false)); d != "" {
		t.Errorf("status error, %d answers learned: %q", MinStable-1, d)
	}
}

// A route's answers are learned per status: its 404s have their shape
// and their stable values, its 200s theirs.
func TestDiffByStatus(t *testing.T) {
	m := learned(MinStable)
	notFound := func(id int, status string) Signature {
		return sigOf(fmt.Sprintf(`{"error":{"code":"not_found","message":"order ord_%04d does not exist"},"status":"%s"}`, id, status))
	}
	for id := range MinStable {
		m.Learn(404, notFound(id, "error"))
	}
	rec404, rec200 := notFound(1, "error"), Of(testKey, jsonType, ordersAnswer(0, 2, "ok", ""), false)
	for _, c := range []struct {
		recStatus int32
		rec       Signature
		live      Signature
		want      string
	}{
		{404, rec404, notFound(99, "error"), ""},
		{404, rec404, notFound(99, "ok"), "value $.status"},
		{200, rec200, Of(testKey, jsonType, ordersAnswer(5, 2, "error", ""), false), "value $.status"},
		{404, rec404, sigOf(`{"status":"error"}`), "missing $.error"},
	} {
		if got := m.Diff(c.recStatus, c.rec, c.recStatus, c.live); got != c.want {
			t.Errorf("%d: Diff = %q, want %q", c.recStatus, got, c.want)
		}
	}
}

// A cut answer says what it has, not what it lacks.
func TestDiffCut(t *testing.T) {
	m := learned(MinStable)
	whole := ordersAnswer(1, 3, "ok", "")
	rec := Of(testKey, jsonType, whole, false)
	recCut := Of(testKey, jsonType, whole[:400], true)
	m.Learn(200, recCut)
	for _, c := range []struct {
		name      string
		rec, live Signature
		want      string
	}{
		{"live cut: nothing missing", rec, Of(testKey, jsonType, ordersAnswer(2, 3, "ok", "")[:300], true), ""},
		{"live cut: types still compared", rec, sigOfCut(`{"count":"3","items":[`), "type $.count number->string"},
		{"live cut: added still reported", rec, sigOfCut(`{"debug":1,"items":[`), "added $.debug"},
		{"recorded cut: nothing added", recCut, Of(testKey, jsonType, ordersAnswer(2, 3, "ok", `,"debug":1`), false), ""},
		{"recorded cut: missing still reported", recCut, sigOf(`{"count":3,"next":null,"status":"ok"}`), "missing $.items"},
		{"recorded cut: values not compared", recCut, Of(testKey, jsonType, ordersAnswer(2, 3, "error", ""), false), ""},
		{"cut by bounds", rec, sigOf(`{"items":[` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `],"count":0}`), "type $.items[] object->array (+1 more)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := m.Diff(200, c.rec, 200, c.live); got != c.want {
				t.Errorf("Diff = %q, want %q", got, c.want)
			}
		})
	}
}

func sigOfCut(body string) Signature { return Of(testKey, jsonType, []byte(body), true) }

// A route whose answers use ids as keys grows the model only so far;
// past that, paths it does not know are not judged.
func TestModelBound(t *testing.T) {
	var m Model
	var last Signature
	for i := 0; ; i++ {
		var b strings.Builder
		b.WriteString("{")
		for j := range 100 {
			fmt.Fprintf(&b, `"user%d":{"name":"n"},`, i*100+j)
		}
		b.WriteString(`"n":100}`)
		last = sigOf(b.String())
		m.Learn(200, last)
		if m.statuses[200].full {
			break
		}
		if i > 100 {
			t.Fatal("the model never filled")
		}
	}
	if n := len(m.statuses[200].paths); n > maxModelPaths {
		t.Errorf("model kept %d paths, bound %d", n, maxModelPaths)
	}
	if d := m.Diff(200, last, 200, sigOf(`{"user999999":{"name":"n"},"n":100}`)); d != "" {
		t.Errorf("Diff = %q, want nothing judged", d)
	}
}

// An emptied array is a difference unless the recording had one; a
// field missing from the elements is one even where the recording had
// empty arrays.
func TestDiffEmptied(t *testing.T) {
	empty := sigOf(`{"items":[],"count":0,"next":"/n","status":"ok"}`)
	noOwner := sigOf(`{"items":[` + order{seed: 5}.json() + `],"count":1,"next":"/n","status":"ok"}`)
	rec := Of(testKey, jsonType, ordersAnswer(2, 4, "ok", ""), false)

	never := learned(MinStable)
	if d := never.Diff(200, rec, 200, empty); d != "missing $.items[]" {
		t.Errorf("emptied, never recorded empty: %q", d)
	}
	sometimes := learned(MinStable)
	sometimes.Learn(200, empty)
	if d := sometimes.Diff(200, rec, 200, empty); d != "" {
		t.Errorf("emptied, recorded empty too: %q", d)
	}
	if d := sometimes.Diff(200, rec, 200, noOwner); d != "missing $.items[].owner" {
		t.Errorf("no owner, recorded empty lists: %q", d)
	}
}

func TestParent(t *testing.T) {
	for p, want := range map[string]string{
		"$":                "",
		"$.a":              "$",
		"$.a.b":            "$.a",
		"$[]":              "$",
		"$.a[][]":          "$.a[]",
		`$["a b"]`:         "$",
		`$.x["a.b"]`:       "$.x",
		`$.x["a\"]"]`:      "$.x",
		`$.x["a\\"]`:       "$.x",
		`$.x["[\"y"]`:      "$.x",
		`$["a"].b`:         `$["a"]`,
		`$["k.1"]["k.2"]`:  `$["k.1"]`,
		`$["\\\""][]`:      `$["\\\""]`,
		`$.a["b"]["c"][]`:  `$.a["b"]["c"]`,
		`$.a["b"]["c"].d0`: `$.a["b"]["c"]`,
	} {
		got, ok := parent(p)
		if got != want || ok != (want != "") {
			t.Errorf("parent(%s) = %q, %v; want %q", p, got, ok, want)
		}
	}
	// Every path Of makes has its parent among the paths.
	for _, name := range []string{"orders.json", "metrics.json"} {
		s := Of(testKey, jsonType, fixture(t, name), false)
		for _, l := range s.Leaves {
			if up, ok := parent(l.Path); ok && !has(s.Leaves, up) {
				t.Errorf("%s: parent %q of %q is not a path", name, up, l.Path)
			}
		}
	}
}
