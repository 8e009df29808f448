//! The only place that writes to stdout: aligned table rows for people or JSON lines for programs.

use std::io::{self, Write};

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::{Error, Result};

/// A column of a streamed table: its heading, a minimum width, and its alignment.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The heading.
    pub name: &'static str,
    /// Cells are padded to at least this width so rows line up while they stream.
    pub width: usize,
    /// Right-align (numbers) instead of left.
    pub right: bool,
}

impl Column {
    /// A left-aligned column.
    pub const fn left(name: &'static str, width: usize) -> Column {
        Column {
            name,
            width,
            right: false,
        }
    }

    /// A right-aligned (numeric) column.
    pub const fn right(name: &'static str, width: usize) -> Column {
        Column {
            name,
            width,
            right: true,
        }
    }
}

/// Something that can be printed as one table row or one JSON line.
pub trait Row: Serialize {
    /// The table's columns (rows printed to one table share them).
    fn columns(&self) -> &'static [Column];
    /// This row's cells, one per column.
    fn cells(&self) -> Vec<String>;
}

/// Writes rows to stdout as they come, so output starts before a long listing ends.
#[derive(Debug)]
pub struct Output {
    format: OutputFormat,
    /// Headings of the table being printed; a row with other columns starts a new table.
    header: Vec<&'static str>,
    rows: u64,
}

impl Output {
    /// An output in the chosen format.
    pub fn new(format: OutputFormat) -> Self {
        Output {
            format,
            header: Vec::new(),
            rows: 0,
        }
    }

    /// The chosen format.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes one row, with a header line before the first row of each table.
    pub fn row<R: Row>(&mut self, row: &R) -> Result<()> {
        let line = match self.format {
            OutputFormat::Json => json_line(row)?,
            OutputFormat::Table => {
                let mut text = String::new();
                let names: Vec<&'static str> = row.columns().iter().map(|c| c.name).collect();
                if names != self.header {
                    if !self.header.is_empty() {
                        text.push('\n');
                    }
                    let cells: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                    text.push_str(&format_cells(row.columns(), &cells));
                    text.push('\n');
                    self.header = names;
                }
                let cells: Vec<String> = row.cells().iter().map(|c| printable(c)).collect();
                text.push_str(&format_cells(row.columns(), &cells));
                text
            }
        };
        self.rows += 1;
        write_line(&line)
    }

    /// Writes one JSON object as a line, whatever the format (summaries in JSON mode).
    pub fn json<T: Serialize>(&mut self, value: &T) -> Result<()> {
        write_line(&json_line(value)?)
    }

    /// Writes plain text for people (tables mode only: plans and summaries), each of its lines
    /// made [`printable`].
    pub fn text(&mut self, text: &str) -> Result<()> {
        for line in text.split('\n') {
            write_line(&printable(line))?;
        }
        Ok(())
    }
}

/// Serialises one value as a JSON line.
fn json_line<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Invalid(format!("cannot encode JSON: {e}")))
}

/// Pads cells to their column widths; the last column is never padded.
pub fn format_cells(columns: &[Column], cells: &[String]) -> String {
    let mut line = String::new();
    for (i, (col, cell)) in columns.iter().zip(cells).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        let last = i + 1 == columns.len();
        if col.right {
            line.push_str(&format!("{cell:>w$}", w = col.width));
        } else if last {
            line.push_str(cell);
        } else {
            line.push_str(&format!("{cell:<w$}", w = col.width));
        }
    }
    // An empty last cell (an empty bar) leaves no padding behind it.
    if cells.len() == columns.len() && cells.last().is_some_and(String::is_empty) {
        line.truncate(line.trim_end_matches(' ').len());
    }
    line
}

/// Writes a line to stdout with the visible progress bar cleared around it (so no bar line is
/// left between data lines); a closed pipe (`| head`) is reported as [`Error::Io`] of kind
/// BrokenPipe.
fn write_line(line: &str) -> Result<()> {
    crate::progress::suspend_active(|| {
        let mut out = io::stdout().lock();
        writeln!(out, "{line}").and_then(|()| out.flush())
    })
    .map_err(|source| Error::Io {
        what: "writing to stdout".into(),
        source,
    })
}

pub use crate::text::printable;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_all_but_the_last_column() {
        let cols = [
            Column {
                name: "A",
                width: 4,
                right: false,
            },
            Column {
                name: "N",
                width: 5,
                right: true,
            },
            Column {
                name: "KEY",
                width: 10,
                right: false,
            },
        ];
        let line = format_cells(&cols, &["x".into(), "12".into(), "k".into()]);
        assert_eq!(line, "x        12  k");
    }

    #[test]
    fn an_empty_last_cell_leaves_no_trailing_spaces() {
        let cols = [Column::left("A", 4), Column::left("BAR", 0)];
        assert_eq!(format_cells(&cols, &["x".into(), String::new()]), "x");
        assert_eq!(format_cells(&cols, &["x".into(), "█".into()]), "x     █");
    }
}
