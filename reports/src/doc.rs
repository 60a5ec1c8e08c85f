//! A small document model — sections of paragraphs, tables and charts — that the report and
//! the comparison build once and the HTML template and the Markdown writer both render, so the
//! two formats never disagree about a number.

use std::fmt::Write;

/// How a cell should read at a glance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tone {
    #[default]
    Plain,
    Good,
    Fair,
    Poor,
    Muted,
}

impl Tone {
    /// The CSS class of the tone.
    pub fn class(&self) -> &'static str {
        match self {
            Tone::Plain => "",
            Tone::Good => "good",
            Tone::Fair => "fair",
            Tone::Poor => "poor",
            Tone::Muted => "muted",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cell {
    pub text: String,
    /// A second, smaller line (a confidence interval); empty for none.
    pub sub: String,
    pub tone: Tone,
    /// Right-aligned figure rather than a label.
    pub num: bool,
}

impl Cell {
    pub fn label(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            ..Default::default()
        }
    }

    pub fn num(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            num: true,
            ..Default::default()
        }
    }

    /// A cell for a missing figure.
    pub fn none() -> Cell {
        Cell {
            text: "–".into(),
            num: true,
            tone: Tone::Muted,
            ..Default::default()
        }
    }

    pub fn with_sub(mut self, sub: impl Into<String>) -> Cell {
        self.sub = sub.into();
        self
    }

    pub fn tone(mut self, tone: Tone) -> Cell {
        self.tone = tone;
        self
    }

    /// Text and interval on one line, for formats without a second line.
    pub fn flat(&self) -> String {
        if self.sub.is_empty() {
            self.text.clone()
        } else {
            format!("{} {}", self.text, self.sub)
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub caption: String,
    /// An optional row above the header: (label, columns spanned).
    pub groups: Vec<(String, usize)>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Shown folded (details) in HTML and left out of the Markdown summary.
    pub collapsed: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    /// A complete `<svg>` element.
    pub svg: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Para(String),
    /// A one-line verdict, shown prominently.
    Callout(String, Tone),
    Table(Table),
    /// Charts laid out side by side where the page is wide enough.
    Charts(Vec<Chart>),
    Code(String),
    /// A definition list.
    Facts(Vec<(String, String)>),
    /// Links to files beside the report (label, relative address).
    Links(Vec<(String, String)>),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Section {
    /// Anchor for the table of contents.
    pub id: String,
    pub title: String,
    pub blocks: Vec<Block>,
    /// Part of the Markdown summary.
    pub summary: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
}

impl Section {
    pub fn new(id: &str, title: &str) -> Section {
        Section {
            id: id.into(),
            title: title.into(),
            ..Default::default()
        }
    }

    pub fn para(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Para(text.into()));
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A GitHub-flavoured Markdown table.
pub fn markdown_table(t: &Table) -> String {
    let mut out = String::new();
    if !t.caption.is_empty() {
        let _ = writeln!(out, "**{}**\n", md_escape(&t.caption));
    }
    let _ = writeln!(
        out,
        "| {} |",
        t.header
            .iter()
            .map(|h| md_escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    // Alignment follows the first row: figures right, labels left.
    let first = t.rows.first();
    let align: Vec<&str> = (0..t.header.len())
        .map(|i| match first.and_then(|r| r.get(i)) {
            Some(c) if c.num => "---:",
            _ => "---",
        })
        .collect();
    let _ = writeln!(out, "| {} |", align.join(" | "));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(|c| md_escape(&c.flat())).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// A plain-text table for a terminal: caption, header, a rule, rows; figures right-aligned,
/// each cell on one line (text and interval).
pub fn text_table(t: &Table) -> String {
    let rows: Vec<Vec<(String, bool)>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(|c| (c.flat(), c.num)).collect())
        .collect();
    let mut width: Vec<usize> = t.header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, (text, _)) in r.iter().enumerate() {
            if i < width.len() {
                width[i] = width[i].max(text.chars().count());
            }
        }
    }
    let pad = |text: &str, w: usize, right: bool| {
        let gap = " ".repeat(w.saturating_sub(text.chars().count()));
        if right {
            format!("{gap}{text}")
        } else {
            format!("{text}{gap}")
        }
    };
    let mut out = String::new();
    if !t.caption.is_empty() {
        let _ = writeln!(out, "{}", t.caption);
    }
    let line = |cells: Vec<String>| cells.join("  ").trim_end().to_string();
    let head: Vec<String> = t
        .header
        .iter()
        .enumerate()
        .map(|(i, h)| pad(h, width[i], false))
        .collect();
    let _ = writeln!(out, "{}", line(head));
    let rule: Vec<String> = width.iter().map(|w| "─".repeat(*w)).collect();
    let _ = writeln!(out, "{}", line(rule));
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, (text, num))| pad(text, width.get(i).copied().unwrap_or(0), *num))
            .collect();
        let _ = writeln!(out, "{}", line(cells));
    }
    out
}

/// The page as Markdown. `summary_only` keeps the sections marked `summary` and leaves out
/// folded tables; charts are always left out (Markdown has no inline SVG that renders
/// everywhere).
pub fn markdown(page: &Page, summary_only: bool) -> String {
    let mut out = format!("# {}\n\n", page.title);
    if !page.subtitle.is_empty() {
        let _ = writeln!(out, "{}\n", page.subtitle);
    }
    for s in page.sections.iter().filter(|s| s.summary || !summary_only) {
        let _ = writeln!(out, "## {}\n", s.title);
        for b in &s.blocks {
            match b {
                Block::Para(p) => {
                    let _ = writeln!(out, "{p}\n");
                }
                Block::Callout(p, _) => {
                    let _ = writeln!(out, "> **{p}**\n");
                }
                Block::Table(t) if !(summary_only && t.collapsed) => {
                    let _ = writeln!(out, "{}", markdown_table(t));
                }
                Block::Table(_) | Block::Charts(_) => {}
                Block::Code(c) => {
                    let _ = writeln!(out, "```sh\n{c}\n```\n");
                }
                Block::Facts(f) => {
                    for (k, v) in f {
                        let _ = writeln!(out, "- **{k}**: {v}");
                    }
                    out.push('\n');
                }
                Block::Links(l) => {
                    for (label, href) in l {
                        let _ = writeln!(out, "- [{label}]({href})");
                    }
                    out.push('\n');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_align_and_escape() {
        let t = Table {
            header: vec!["name".into(), "value".into()],
            rows: vec![vec![Cell::label("a|b"), Cell::num("1").with_sub("[0, 2]")]],
            ..Default::default()
        };
        let md = markdown_table(&t);
        assert!(md.contains("| --- | ---: |"), "{md}");
        assert!(md.contains("| a\\|b | 1 [0, 2] |"), "{md}");
    }
}
