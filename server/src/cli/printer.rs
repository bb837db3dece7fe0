//! The one printer of the command line: results to stdout, progress and logs to stderr, colour
//! only on a terminal and never with `NO_COLOR`, JSON for scripts.

use std::fmt::Display;
use std::io::{IsTerminal, Write};

use console::style;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    /// `--json`: machine-readable results on stdout, nothing decorative.
    pub(crate) json: bool,
    /// stderr is an interactive terminal: live progress bars.
    pub(crate) live: bool,
}

impl Printer {
    pub(crate) fn new(json: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let stderr_tty = std::io::stderr().is_terminal() && !dumb;
        let stdout_tty = std::io::stdout().is_terminal() && !dumb;
        console::set_colors_enabled(stdout_tty && !no_color && !json);
        console::set_colors_enabled_stderr(stderr_tty && !no_color);
        Printer {
            json,
            live: stderr_tty && !json,
        }
    }

    /// A result line on stdout.
    pub(crate) fn out(&self, text: impl Display) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
    }

    /// A progress or diagnostic line on stderr.
    pub(crate) fn err(&self, text: impl Display) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{text}");
    }

    /// One JSON value on one stdout line.
    pub(crate) fn json_line(&self, value: &impl serde::Serialize) {
        match serde_json::to_string(value) {
            Ok(text) => self.out(text),
            Err(e) => self.err(format!("error: cannot print JSON: {e}")),
        }
    }

    /// One JSON document on stdout.
    pub(crate) fn json_pretty(&self, value: &impl serde::Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.out(text),
            Err(e) => self.err(format!("error: cannot print JSON: {e}")),
        }
    }

    pub(crate) fn error(&self, message: impl Display) {
        self.err(format!(
            "{} {message}",
            style("error:").red().bold().for_stderr()
        ));
    }

    /// A command's failure: under `--json`, one JSON object on stderr
    /// (`{"error": {"message": …, "exit_code": …}}`), so that scripts parse errors too.
    pub(crate) fn failure(&self, message: &str, exit_code: u8) {
        if self.json {
            let value = serde_json::json!({
                "error": { "message": message, "exit_code": exit_code }
            });
            self.err(value);
        } else {
            self.error(message);
        }
    }

    /// A table for stdout, without borders: add rows, then print it with [`out`](Self::out).
    pub(crate) fn table(&self, header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| style(h).bold().to_string()).collect(),
            rows: Vec::new(),
        }
    }
}

/// Rows gathered for stdout and laid out when printed. In a terminal, comfy-table fits the
/// columns to its width (wrapping long cells); anywhere else (a pipe, a file) the columns are
/// padded to their widest cell and written at natural width in one pass, which for the 10,000
/// rows of `assets list` takes ~2 ms instead of comfy-table's ~100 ms.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn add_row<S: Into<String>>(
        &mut self,
        row: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        self.rows.push(row.into_iter().map(Into::into).collect());
        self
    }

    /// Fitted to the terminal by comfy-table.
    fn fmt_terminal(&self, f: &mut std::fmt::Formatter<'_>, cols: u16) -> std::fmt::Result {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::NOTHING)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_width(cols)
            .set_header(self.header.iter().map(comfy_table::Cell::new));
        for row in &self.rows {
            table.add_row(row.iter().map(comfy_table::Cell::new));
        }
        write!(f, "{table}")
    }

    /// At natural width: every cell padded by one space on each side to its column's widest
    /// line, multi-line cells continued on the next lines, trailing spaces kept off.
    fn fmt_plain(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (width, cell) in widths.iter_mut().zip(row) {
                for line in cell.lines() {
                    *width = (*width).max(console::measure_text_width(line));
                }
            }
        }
        let mut out = String::new();
        let mut lines: Vec<std::str::Lines<'_>> = Vec::with_capacity(columns);
        for (i, row) in std::iter::once(&self.header).chain(&self.rows).enumerate() {
            if i > 0 {
                out.push('\n');
            }
            lines.clear();
            lines.extend(row.iter().map(|cell| cell.lines()));
            let height = row
                .iter()
                .map(|c| c.lines().count().max(1))
                .max()
                .unwrap_or(1);
            for line in 0..height {
                if line > 0 {
                    out.push('\n');
                }
                let start = out.len();
                for (column, width) in widths.iter().enumerate() {
                    let text = lines.get_mut(column).and_then(Iterator::next).unwrap_or("");
                    out.push(' ');
                    out.push_str(text);
                    let pad = width - console::measure_text_width(text) + 1;
                    out.extend(std::iter::repeat_n(' ', pad));
                }
                let end = out.trim_end_matches(' ').len().max(start);
                out.truncate(end);
            }
        }
        f.write_str(&out)
    }
}

impl Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match console::Term::stdout().size_checked() {
            Some((_, cols)) if std::io::stdout().is_terminal() && cols >= 40 => {
                self.fmt_terminal(f, cols)
            }
            _ => self.fmt_plain(f),
        }
    }
}

/// `2026-11-22 04:10:03` in the local time zone (all stored times are UTC).
pub(crate) fn local_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "?".into())
}

/// `12s ago`, `3m ago`, `2h ago`, `4d ago`.
pub(crate) fn age(micros: i64) -> String {
    let secs = (chrono::Utc::now().timestamp_micros() - micros).max(0) / 1_000_000;
    match secs {
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86_400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// `0.12s`, `4.5s`, `2m05s`.
pub(crate) fn duration(ms: f64) -> String {
    let secs = ms / 1000.0;
    if secs < 10.0 {
        format!("{secs:.2}s")
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let s = secs.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// `1,234,567`.
/// `1 asset`, `2 assets`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", count(n as u64))
    }
}

pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `512 B`, `1.5 KB`, `12.3 MB`, `2.0 GB` (powers of 1000).
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub(crate) fn dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

pub(crate) fn first_line(s: &str) -> String {
    truncate(s.lines().next().unwrap_or("").trim(), 72)
}

/// At most `width` characters, with an ellipsis when cut.
pub(crate) fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() > width {
        format!("{}…", s.chars().take(width - 1).collect::<String>())
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_durations() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(duration(123.0), "0.12s");
        assert_eq!(duration(12_345.0), "12.3s");
        assert_eq!(duration(125_000.0), "2m05s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_500), "1.5 KB");
        assert_eq!(bytes(12_345_678), "12.3 MB");
    }

    #[test]
    fn plain_tables_pad_columns_to_their_widest_line() {
        let printer = Printer {
            json: false,
            live: false,
        };
        let mut table = printer.table(&["ASSET", "NOTE"]);
        table.add_row(["a", "one"]);
        table.add_row(vec![
            format!("{}", style("longer_name").red().force_styling(true)),
            "two\nlines".to_owned(),
        ]);
        table.add_row(["b", ""]);
        let text = format!("{}", Plain(&table));
        let lines: Vec<&str> = text.lines().collect();
        // Styled cells are measured without their escape codes; no line ends in a space.
        assert_eq!(console::strip_ansi_codes(lines[0]), " ASSET        NOTE");
        assert_eq!(lines[1], " a            one");
        assert_eq!(console::strip_ansi_codes(lines[2]), " longer_name  two");
        assert_eq!(lines[3], "              lines");
        assert_eq!(lines[4], " b");
        assert_eq!(lines.len(), 5);
    }

    /// A table rendered as for a pipe, whatever stdout is while testing.
    struct Plain<'a>(&'a Table);

    impl Display for Plain<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt_plain(f)
        }
    }
}
