package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here as SVG, inline in the report: no script, no font
// or file to fetch, the same bytes for the same figures (golden files).
// Hovering shows the values: each chart has transparent bands, one per
// window (or group of windows), whose <title> the browser shows as a
// tooltip.

type series struct {
	name, color string
	ys          []float64
	// xs are the series' own times (seconds from its run's start), nil
	// for the chart's: a baseline's windows are not the run's.
	xs []float64
	// dashed draws a baseline's series: one legend entry for them all.
	dashed bool
}

// chartSize is a chart's viewBox.
type chartSize struct{ w, h float64 }

var (
	fullChart  = chartSize{720, 220}
	smallChart = chartSize{360, 150}
)

const (
	chartW, chartH = 720.0, 220.0
	padL, padR     = 56.0, 12.0
	padT, padB     = 24.0, 28.0
	// maxHoverBands bounds a chart's hover bands: past it, each band
	// covers a few windows and says their range.
	maxHoverBands = 240
)

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

// hoverValue is a value as a tooltip shows it: a little more precise
// than a tick.
func hoverValue(v float64) string {
	switch {
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// lineChart draws series over xs (seconds from the start).
func lineChart(title, unit string, xs []float64, ss []series, marks ...mark) template.HTML {
	return lineChartIn(fullChart, title, unit, xs, ss, marks)
}

// mark is a moment of the run a chart marks with a vertical line and
// its label: a change of users or rate, at x seconds.
type mark struct {
	x     float64
	label string
}

// lineChartIn draws a line chart of the given size.
func lineChartIn(size chartSize, title, unit string, xs []float64, ss []series, marks []mark) template.HTML {
	var b strings.Builder
	class := "chart"
	if size != fullChart {
		class = "chart route" // a route's: apart from the run's charts
	}
	fmt.Fprintf(&b, `<svg class="%s" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, class, size.w, size.h, html.EscapeString(title))
	if size == fullChart { // a route's chart has its name above it, in the page
		fmt.Fprintf(&b, `<text x="%.0f" y="16" class="title">%s</text>`, padL, html.EscapeString(title))
	}
	ymax := 0.0
	xmax := 1.0
	if len(xs) > 0 {
		xmax = max(xs[len(xs)-1], 1)
	}
	for _, s := range ss {
		for _, y := range s.ys {
			if !math.IsNaN(y) { // a window without requests has no latency
				ymax = max(ymax, y)
			}
		}
		if len(s.xs) > 0 {
			xmax = max(xmax, s.xs[len(s.xs)-1])
		}
	}
	ymax = niceMax(ymax)
	plotW, plotH := size.w-padL-padR, size.h-padT-padB
	px := func(x float64) float64 { return padL + x/xmax*plotW }
	py := func(y float64) float64 { return padT + plotH - y/ymax*plotH }
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>`, padL, py(y), size.w-padR, py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, padL-6, py(y)+4, html.EscapeString(fmtTick(y)+unit))
	}
	for i := 0; i <= 4; i++ {
		x := xmax * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%ss</text>`, px(x), size.h-8, fmtTick(x))
	}
	var legend []series
	dashed := false
	for _, s := range ss {
		sx := s.xs
		if sx == nil {
			sx = xs
		}
		var pts []string
		for i, y := range s.ys {
			if i < len(sx) && !math.IsNaN(y) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(sx[i]), py(y)))
			}
		}
		style := ""
		if s.dashed {
			style, dashed = ` stroke-dasharray="5 3" stroke-opacity="0.6"`, true
		} else {
			legend = append(legend, s)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>`, s.color, style, strings.Join(pts, " "))
	}
	if dashed {
		legend = append(legend, series{name: "baseline", color: "#6b7280", dashed: true})
	}
	spacing := 90.0
	if size != fullChart {
		spacing = 70
	}
	for k, s := range legend {
		lx := size.w - padR - float64(len(legend)-k)*spacing
		if s.dashed {
			fmt.Fprintf(&b, `<line x1="%.0f" y1="13" x2="%.0f" y2="13" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"/>`, lx, lx+10, s.color)
		} else {
			fmt.Fprintf(&b, `<rect x="%.0f" y="8" width="10" height="10" fill="%s"/>`, lx, s.color)
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="17" class="tick">%s</text>`, lx+14, html.EscapeString(s.name))
	}
	hoverBands(&b, xs, ss, unit, px, padT, plotH)
	// Over the hover bands: a mark's title shows on its line.
	for _, m := range marks {
		if m.x < 0 || m.x > xmax {
			continue
		}
		fmt.Fprintf(&b, `<g class="mark"><title>%s</title><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#7c3aed" stroke-width="1.5" stroke-dasharray="2 2"/>`+
			`<text x="%.1f" y="%.1f" class="tick" fill="#7c3aed">%s</text></g>`,
			html.EscapeString(m.label), px(m.x), padT, px(m.x), padT+plotH, px(m.x)+3, padT+10, html.EscapeString(m.label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hoverBands writes a transparent band over the plot for each window of
// xs (or group of windows, past maxHoverBands), whose title gives every
// series' value there (its range over a group).
func hoverBands(b *strings.Builder, xs []float64, ss []series, unit string, px func(float64) float64, top, height float64) {
	n := len(xs)
	if n == 0 {
		return
	}
	half := 0.5
	if n > 1 {
		half = (xs[1] - xs[0]) / 2
	}
	group := (n + maxHoverBands - 1) / maxHoverBands
	for first := 0; first < n; first += group {
		last := min(first+group, n) - 1
		from, to := xs[first]-half, xs[last]+half
		var parts []string
		for _, s := range ss {
			var lo, hi float64
			seen := false
			for i, y := range s.ys {
				in := i >= first && i <= last // the chart's windows
				if s.xs != nil {              // a baseline's: those at the same offsets
					in = i < len(s.xs) && s.xs[i] >= from && s.xs[i] < to
				}
				if !in || math.IsNaN(y) {
					continue
				}
				if !seen {
					lo, hi, seen = y, y, true
				}
				lo, hi = min(lo, y), max(hi, y)
			}
			if !seen {
				continue
			}
			name := s.name
			if s.dashed {
				name = "baseline " + name
			}
			v := hoverValue(lo)
			if hi != lo {
				v += "–" + hoverValue(hi)
			}
			parts = append(parts, name+" "+v+unit)
		}
		if len(parts) == 0 {
			continue
		}
		at := fmtTick(xs[first]) + " s"
		if last > first {
			at = fmtTick(xs[first]) + "–" + fmtTick(xs[last]) + " s"
		}
		x0, x1 := px(max(from, 0)), px(to)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="hover"><title>%s: %s</title></rect>`,
			x0, top, max(x1-x0, 0.5), height, at, html.EscapeString(strings.Join(parts, ", ")))
	}
}

// barChart draws the latency distribution: edges under bars (one more
// than the counts), and the baseline's counts as dashed outlines (nil
// without one).
func barChart(title string, edges []string, counts, base []int64) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="16" class="title">%s</text>`, padL, html.EscapeString(title))
	var top, total, baseTotal int64
	for i, c := range counts {
		top, total = max(top, c), total+c
		if i < len(base) {
			top, baseTotal = max(top, base[i]), baseTotal+base[i]
		}
	}
	ymax := niceMax(float64(top))
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		yy := padT + plotH - y/ymax*plotH
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>`, padL, yy, chartW-padR, yy)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, padL-6, yy+4, fmtTick(y))
	}
	if base != nil {
		lx := chartW - padR - 90
		fmt.Fprintf(&b, `<rect x="%.0f" y="8" width="10" height="10" class="basebar"/><text x="%.0f" y="17" class="tick">baseline</text>`, lx, lx+14)
	}
	if n := len(counts); n > 0 {
		bw := plotW / float64(n)
		for i, c := range counts {
			h := float64(c) / ymax * plotH
			x := padL + float64(i)*bw
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar"><title>%s: %d requests (%.1f%%)</title></rect>`,
				x+1, padT+plotH-h, max(bw-2, 1), h, html.EscapeString(edges[i]+" to "+edges[i+1]), c, 100*ratio(c, total))
			if i < len(base) {
				bh := float64(base[i]) / ymax * plotH
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="basebar"><title>baseline %s: %d requests (%.1f%%)</title></rect>`,
					x+1, padT+plotH-bh, max(bw-2, 1), bh, html.EscapeString(edges[i]+" to "+edges[i+1]), base[i], 100*ratio(base[i], baseTotal))
			}
			if i%2 == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%s</text>`, x+bw/2, chartH-8, html.EscapeString(edges[i]))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
