// Package web is replay's web UI (replay --web): a form to start a run,
// its figures live, its users or rate changed while it runs, and at the
// end its analysis, as analyze makes it. A run started here is the same
// engine and leaves the same files as one started from the shell.
package web

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/replaykit/replaykit/analyze"
	"github.com/replaykit/replaykit/replay"
	"github.com/replaykit/replaykit/scenario"
)

// Form is what the start form holds: the command line's values, to begin
// with.
type Form struct {
	// Traces are trace file globs (--trace).
	Traces []string `json:"traces"`
	// Scenario is the scenario's name or short name.
	Scenario string `json:"scenario"`
	// Users is --scale (0: the scenario's); Rate, when positive, runs the
	// open model (--rate).
	Users int     `json:"users"`
	Rate  float64 `json:"rate"`
	// Ramp and Duration are Go durations ("": the scenario's).
	Ramp     string `json:"ramp"`
	Duration string `json:"duration"`
	// Host is the target (--host); Pacing the think times (--pacing, "":
	// the scenario's); Seed --seed.
	Host   string `json:"host"`
	Pacing string `json:"pacing"`
	Seed   uint64 `json:"seed"`
	// Thresholds are added to the analysis (--threshold).
	Thresholds []string `json:"thresholds"`
}

// FormOf is the form the command line's configuration fills in.
func FormOf(name string, cfg replay.Config, thresholds []string) Form {
	f := Form{Traces: cfg.Traces, Scenario: name, Users: cfg.Users, Rate: cfg.Rate, Host: cfg.Host, Pacing: cfg.Pacing,
		Seed: cfg.Seed, Thresholds: thresholds}
	if cfg.Ramp > 0 {
		f.Ramp = cfg.Ramp.String()
	}
	if cfg.Duration > 0 {
		f.Duration = cfg.Duration.String()
	}
	if sc, err := scenario.Lookup(f.Scenario); err == nil {
		f.Scenario = sc.Name // the form's list has full names
	} else {
		f.Scenario = "light_load"
	}
	return f
}

// run is the run f asks for, on the base configuration (what the form
// does not hold: headers, timeout, output directory, TLS), checked as
// the command line checks its flags.
func (f Form) run(base replay.Config, abase analyze.Config) (replay.Config, analyze.Config, error) {
	cfg := base
	cfg.Traces = nil
	for _, t := range f.Traces {
		if t = strings.TrimSpace(t); t != "" {
			// Refused here, not after a run was begun.
			if m, err := filepath.Glob(t); err != nil || len(m) == 0 {
				return cfg, abase, fmt.Errorf("traces: no file matches %q", t)
			}
			cfg.Traces = append(cfg.Traces, t)
		}
	}
	if len(cfg.Traces) == 0 {
		return cfg, abase, fmt.Errorf("traces: give at least one trace file or glob")
	}
	cfg.Users, cfg.Rate, cfg.Host, cfg.Pacing, cfg.Seed = f.Users, f.Rate, strings.TrimSpace(f.Host), strings.TrimSpace(f.Pacing), f.Seed
	var err error
	if cfg.Ramp, err = duration("ramp", f.Ramp); err != nil {
		return cfg, abase, err
	}
	if cfg.Duration, err = duration("duration", f.Duration); err != nil {
		return cfg, abase, err
	}
	if err := cfg.Check(f.Scenario); err != nil {
		return cfg, abase, named(err)
	}
	acfg := abase
	acfg.Thresholds = nil
	for _, t := range f.Thresholds {
		if t = strings.TrimSpace(t); t != "" {
			acfg.Thresholds = append(acfg.Thresholds, t)
		}
	}
	ths, err := acfg.Check()
	if err != nil {
		return cfg, abase, fmt.Errorf("thresholds: %w", err)
	}
	cfg.Aborts = nil
	for _, t := range ths {
		if t.Abort {
			cfg.Aborts = append(cfg.Aborts, t)
		}
	}
	acfg.Host, acfg.Trace = replay.RedactHost(cfg.Host), strings.Join(cfg.Traces, ", ")
	return cfg, acfg, nil
}

func duration(field, s string) (time.Duration, error) {
	if s = strings.TrimSpace(s); s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: want a duration such as 30s or 5m", field, s)
	}
	return d, nil
}

// fields name the form's fields behind replay.Config's.
var fields = map[string]string{"Users": "users", "Duration": "duration", "Ramp": "ramp", "Rate": "rate", "Pacing": "pacing",
	"Host": "host", "Scenario": "scenario", "Speed": "speed", "Timeout": "timeout", "Shard": "shard"}

// named says which field of the form an option error is about.
func named(err error) error {
	if oe, ok := err.(*replay.OptionError); ok && fields[oe.Option] != "" {
		return fmt.Errorf("%s: %w", fields[oe.Option], err)
	}
	return err
}
