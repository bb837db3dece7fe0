//! The live view of a run: a progress bar on a terminal, plain lines when piped, JSON events
//! with `--json`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stemma::event::{Event, EventKind};
use stemma::{LogLevel, RunObserver};

use super::printer::{Printer, count, duration};

/// Labels are padded to this width so columns line up in the common case.
const LABEL_WIDTH: usize = 22;

#[derive(Default)]
struct State {
    running: BTreeSet<String>,
    /// Rows and short data version of each step's materialization, for its ✓ line.
    produced: HashMap<String, (Option<u64>, String)>,
}

pub(crate) struct Progress {
    printer: Printer,
    bar: Option<ProgressBar>,
    state: Mutex<State>,
}

impl Progress {
    pub(crate) fn new(printer: Printer) -> Self {
        // Hidden until the run is planned and its step count known.
        let bar = printer.live.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            if let Ok(s) = ProgressStyle::with_template(
                "{spinner:.cyan} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} steps  {wide_msg:.dim}",
            ) {
                bar.set_style(s.progress_chars("█▉▊▋▌▍▎▏ "));
            }
            bar
        });
        Progress {
            printer,
            bar,
            state: Mutex::new(State::default()),
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => self.printer.err(text),
        }
    }

    fn refresh(&self, state: &State) {
        if let Some(bar) = &self.bar {
            let running: Vec<&str> = state.running.iter().map(String::as_str).take(6).collect();
            let more = state.running.len().saturating_sub(running.len());
            let mut msg = running.join(", ");
            if more > 0 {
                msg.push_str(&format!(" +{more}"));
            }
            bar.set_message(msg);
        }
    }

    fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// The run's first line; the bar appears, now that the number of steps is known.
    fn run_started(&self, event: &Event, selection: &str, steps: u32) {
        if let Some(bar) = &self.bar {
            bar.set_length(u64::from(steps));
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        let run = event.run_id.as_ref().map_or("", |r| r.short());
        self.line(format!(
            "{} {} {selection:?}: {steps} step{}",
            style("Run").bold().for_stderr(),
            style(run).cyan().for_stderr(),
            if steps == 1 { "" } else { "s" }
        ));
    }

    /// A failed attempt: retried (the step still runs), or the step's end.
    fn step_failed(
        &self,
        state: &mut State,
        label: String,
        error: &str,
        attempt: u32,
        retrying: bool,
    ) {
        if retrying {
            self.line(format!(
                "  {} {label:<LABEL_WIDTH$} attempt {attempt} failed, retrying: {}",
                style("!").yellow().for_stderr(),
                indent(error)
            ));
        } else {
            state.running.remove(&label);
            self.line(format!(
                "  {} {label:<LABEL_WIDTH$} {} {}",
                style("✗").red().bold().for_stderr(),
                style("failed:").red().for_stderr(),
                indent(error)
            ));
            self.advance();
        }
        self.refresh(state);
    }

    /// Steps still shown as running were cut off with the run.
    fn run_ended(&self, state: &mut State) {
        for label in std::mem::take(&mut state.running) {
            self.line(format!(
                "  {} {label:<LABEL_WIDTH$} interrupted",
                style("⊘").yellow().for_stderr()
            ));
        }
        self.finish();
    }

    /// Removes the bar (call before printing the summary).
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl RunObserver for Progress {
    fn on_event(&self, event: &Event) {
        if self.printer.json {
            self.printer.json_line(event);
            return;
        }
        let label = event.step_label().unwrap_or_default();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match &event.kind {
            EventKind::RunStarted {
                selection, steps, ..
            } => self.run_started(event, selection, *steps),
            EventKind::StepStarted { attempt } => {
                state.running.insert(label.clone());
                if *attempt > 1 {
                    self.line(format!(
                        "  {} {label:<LABEL_WIDTH$} attempt {attempt}",
                        style("↻").yellow().for_stderr()
                    ));
                }
                self.refresh(&state);
            }
            EventKind::Materialization(m) => {
                state
                    .produced
                    .insert(label, (m.rows, m.data_version.short().to_owned()));
            }
            EventKind::StepSucceeded { duration_ms, .. } => {
                state.running.remove(&label);
                let (rows, dv) = state.produced.remove(&label).unwrap_or_default();
                let rows = rows.map_or_else(|| "-".to_owned(), |r| format!("{} rows", count(r)));
                self.line(format!(
                    "  {} {label:<LABEL_WIDTH$} {rows:>12}  {}  {}",
                    style("✓").green().for_stderr(),
                    style(dv).dim().for_stderr(),
                    duration(*duration_ms)
                ));
                self.advance();
                self.refresh(&state);
            }
            EventKind::StepUpToDate { data_version, .. } => {
                self.line(format!(
                    "  {} {label:<LABEL_WIDTH$} {:>12}  {}",
                    style("=").dim().for_stderr(),
                    "up to date",
                    style(data_version.short()).dim().for_stderr(),
                ));
                self.advance();
                self.refresh(&state);
            }
            EventKind::StepFailed {
                error,
                attempt,
                retrying,
                ..
            } => self.step_failed(&mut state, label, error, *attempt, *retrying),
            EventKind::StepSkipped { reason } => {
                state.running.remove(&label);
                self.line(format!(
                    "  {} {label:<LABEL_WIDTH$} skipped: {reason}",
                    style("⊘").yellow().for_stderr()
                ));
                self.advance();
                self.refresh(&state);
            }
            EventKind::CheckEvaluation(c) => self.line(check_line(c)),
            EventKind::Log { level, message } => self.line(log_line(&label, *level, message)),
            EventKind::RunEnded { .. } => self.run_ended(&mut state),
            _ => {}
        }
    }
}

/// A check's line under its step: its mark, its outcome and what it said.
fn check_line(c: &stemma::event::CheckEvaluation) -> String {
    let mark = if c.passed {
        style("✓").green().for_stderr()
    } else if c.severity == stemma::Severity::Warn {
        style("!").yellow().for_stderr()
    } else {
        style("✗").red().for_stderr()
    };
    let outcome = if c.passed {
        "passed".to_owned()
    } else {
        format!(
            "failed ({}{})",
            c.severity,
            if c.blocking { ", blocking" } else { "" }
        )
    };
    let desc = c
        .description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    format!("      {mark} check {} {outcome}{desc}", c.check)
}

/// A line the step's code logged.
fn log_line(label: &str, level: LogLevel, message: &str) -> String {
    let lvl = match level {
        LogLevel::Error => style(format!("{level:<5}")).red().for_stderr(),
        LogLevel::Warn => style(format!("{level:<5}")).yellow().for_stderr(),
        _ => style(format!("{level:<5}")).dim().for_stderr(),
    };
    format!(
        "      {} {lvl} {}",
        style(format!("{label} │")).dim().for_stderr(),
        indent(message)
    )
}

/// Keeps continuation lines of a multi-line message under its first line.
fn indent(text: &str) -> String {
    text.trim_end().replace('\n', "\n        ")
}
