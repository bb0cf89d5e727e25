package analysis

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here as SVG, inline in the report: no script, no font
// or file to fetch, the same bytes for the same figures (golden files).

type series struct {
	name, color string
	ys          []float64
}

const (
	chartW, chartH = 720.0, 220.0
	padL, padR     = 56.0, 12.0
	padT, padB     = 24.0, 28.0
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

// lineChart draws series over xs (seconds from the start).
func lineChart(title, unit string, xs []float64, ss []series) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="16" class="title">%s</text>`, padL, html.EscapeString(title))
	ymax := 0.0
	for _, s := range ss {
		for _, y := range s.ys {
			if !math.IsNaN(y) { // a window without requests has no latency
				ymax = max(ymax, y)
			}
		}
	}
	ymax = niceMax(ymax)
	xmax := 1.0
	if len(xs) > 0 {
		xmax = max(xs[len(xs)-1], 1)
	}
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	px := func(x float64) float64 { return padL + x/xmax*plotW }
	py := func(y float64) float64 { return padT + plotH - y/ymax*plotH }
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>`, padL, py(y), chartW-padR, py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, padL-6, py(y)+4, html.EscapeString(fmtTick(y)+unit))
	}
	for i := 0; i <= 4; i++ {
		x := xmax * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%ss</text>`, px(x), chartH-8, fmtTick(x))
	}
	for k, s := range ss {
		var pts []string
		for i, y := range s.ys {
			if i < len(xs) && !math.IsNaN(y) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(y)))
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, s.color, strings.Join(pts, " "))
		lx := chartW - padR - float64(len(ss)-k)*90
		fmt.Fprintf(&b, `<rect x="%.0f" y="8" width="10" height="10" fill="%s"/><text x="%.0f" y="17" class="tick">%s</text>`,
			lx, s.color, lx+14, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barChart draws the latency distribution: labels under bars.
func barChart(title string, labels []string, counts []int64) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="16" class="title">%s</text>`, padL, html.EscapeString(title))
	var top int64
	for _, c := range counts {
		top = max(top, c)
	}
	ymax := niceMax(float64(top))
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		yy := padT + plotH - y/ymax*plotH
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>`, padL, yy, chartW-padR, yy)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, padL-6, yy+4, fmtTick(y))
	}
	if n := len(counts); n > 0 {
		bw := plotW / float64(n)
		for i, c := range counts {
			h := float64(c) / ymax * plotH
			x := padL + float64(i)*bw
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar"><title>%s: %d</title></rect>`,
				x+1, padT+plotH-h, max(bw-2, 1), h, html.EscapeString(labels[i]), c)
			if i%2 == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%s</text>`, x+bw/2, chartH-8, html.EscapeString(labels[i]))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
