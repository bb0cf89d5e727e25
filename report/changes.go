package report

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/replaykit/replaykit/analysis"
	"github.com/replaykit/replaykit/results"
)

// changeText is what a change set: "users 2", "rate 12.5/s".
func changeText(c analysis.Change) string {
	v := strconv.FormatFloat(c.Value, 'f', -1, 64)
	switch c.What {
	case results.ChangeUsers:
		return "users " + v
	case results.ChangeRate:
		return "rate " + v + "/s"
	}
	return printable(c.What) + " " + v
}

// changeOffset is how long after its run's first send a change came
// (after the report's start for a run without rows).
func changeOffset(rep *analysis.Report, c analysis.Change) time.Duration {
	start := rep.Start
	for _, sp := range rep.RunSpans {
		if sp.Run == c.Run {
			start = sp.Start
			break
		}
	}
	return c.At.Sub(start).Round(100 * time.Millisecond)
}

// changeLine is a change as the terminal and the HTML facts list it:
// "+3.2s (04:05:58 UTC): users 2", with its run when there are several.
func changeLine(rep *analysis.Report, c analysis.Change) string {
	s := fmt.Sprintf("+%s (%s UTC): %s", changeOffset(rep, c), c.At.UTC().Format("15:04:05"), changeText(c))
	if len(rep.Runs) > 1 {
		s += " in " + printable(c.Run)
	}
	return s
}

// terminalChanges is how many changes the terminal lists (the JSON has
// them all).
const terminalChanges = 10

// writeChanges lists the changes made during the runs, and what could
// not be read of the files' footers.
func writeChanges(w io.Writer, rep *analysis.Report) {
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", printable(n))
	}
	if len(rep.Changes) == 0 {
		return
	}
	fmt.Fprintln(w, "changes during the run:")
	for _, c := range rep.Changes[:min(len(rep.Changes), terminalChanges)] {
		fmt.Fprintf(w, "  %s\n", changeLine(rep, c))
	}
	if n := len(rep.Changes) - terminalChanges; n > 0 {
		fmt.Fprintf(w, "  ... %d more in the JSON\n", n)
	}
	if rep.ChangesLeftOut > 0 {
		fmt.Fprintf(w, "  ... and %d more, listed nowhere (a report lists the first 1,000)\n", rep.ChangesLeftOut)
	}
}

// changeMarks are the changes as marks on the run's charts, whose x is
// seconds from the first window's start.
func changeMarks(rep *analysis.Report) []mark {
	if len(rep.Windows) == 0 {
		return nil
	}
	var ms []mark
	for _, c := range rep.Changes {
		ms = append(ms, mark{x: c.At.Sub(rep.Windows[0].Start).Seconds(), label: changeText(c)})
	}
	return ms
}
