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

impl Table {
    /// Leaves out the columns after the first `keep` in which no row has a figure, so a table
    /// of one kind of arm shows none of another kind's empty columns. Column groups must be
    /// empty (their spans would no longer match).
    pub fn drop_empty_columns(&mut self, keep: usize) {
        debug_assert!(self.groups.is_empty());
        let empty: Vec<bool> = (0..self.header.len())
            .map(|i| {
                i >= keep
                    && self
                        .rows
                        .iter()
                        .all(|r| r.get(i).is_none_or(|c| *c == Cell::none()))
            })
            .collect();
        let retain = |v: &mut Vec<_>| {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                !empty[i - 1]
            });
        };
        retain(&mut self.header);
        for r in &mut self.rows {
            let mut i = 0;
            r.retain(|_| {
                i += 1;
                !empty.get(i - 1).copied().unwrap_or(false)
            });
        }
    }
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

/// Text from a results file as inert Markdown: no cell break, line break, code span, inline
/// HTML, autolink or inline link survives (backslash escapes render as the plain character).
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '`' => {
                out.push('\\');
                out.push(c);
            }
            // Only `<` before a letter, `/`, `!` or `?` can open a tag or an autolink; a lone
            // `<` or `>` (`< 6 ns`) reads as itself.
            '<' if chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || ['/', '!', '?'].contains(n)) =>
            {
                out.push_str("\\<");
            }
            ']' if chars.peek() == Some(&'(') => out.push_str("\\]"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A line of prose as Markdown: `backquoted` spans stay code (inert by nature), the rest is
/// escaped, and a leading character that would open a heading, quote or list is escaped too.
fn md_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "`{}`", part.replace(['\n', '\r'], " "));
        } else {
            out.push_str(&md_escape(part));
        }
    }
    if out.starts_with(['#', '>', '-', '+', '*', '=', '~']) || starts_numbered(&out) {
        out.insert(0, '\\');
    }
    out
}

/// `1.` or `1)` opens an ordered list.
fn starts_numbered(s: &str) -> bool {
    let rest = s.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < s.len() && rest.starts_with(['.', ')'])
}

/// A fence of backquotes longer than any run of them in `code`, so nothing inside closes it.
fn fence(code: &str) -> String {
    let longest = code.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// A link target from a results file, usable in HTML and Markdown: a relative or absolute path
/// only (no scheme such as `javascript:`, no `//host`), with every character that could end
/// the target or the attribute percent-encoded. `%` is kept, so that encoding twice changes
/// nothing. `None` for anything else.
pub fn local_href(path: &str) -> Option<String> {
    let before_path = path.split(['/', '?', '#']).next().unwrap_or("");
    if path.is_empty() || path.starts_with("//") || before_path.contains(':') {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/+,=@%".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Some(out)
}

/// Widest line a Markdown table may have: GitHub's page shows about 100 columns of a
/// pull-request comment or job summary before it scrolls.
pub const MARKDOWN_WIDTH: usize = 100;

/// A GitHub-flavoured Markdown table, at most [`MARKDOWN_WIDTH`] characters per line: a table
/// too wide is cut into several, each repeating the leading label columns (filter, scenario).
/// Group headers become part of the column names.
pub fn markdown_table(t: &Table) -> String {
    let mut out = String::new();
    if !t.caption.is_empty() {
        let _ = writeln!(out, "**{}**\n", md_escape(&t.caption));
    }
    // Column groups as a line each: in a column's name they would widen every column.
    let mut col = 0;
    for (label, span) in &t.groups {
        if !label.is_empty() && *span > 0 {
            let (a, b) = (t.header.get(col), t.header.get(col + span - 1));
            if let (Some(a), Some(b)) = (a, b) {
                let cols = if a == b {
                    a.clone()
                } else {
                    format!("{a} … {b}")
                };
                let _ = writeln!(out, "_{}: {}_\n", md_escape(label), md_escape(&cols));
            }
        }
        col += span;
    }
    let names: Vec<String> = t.header.clone();
    // A figure's reason (why absent, why it cannot tell) may be long: cut to what one column
    // beside the labels can hold — the HTML report has it whole.
    let mut cells: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(|c| md_escape(&c.flat())).collect())
        .collect();
    let first = t.rows.first();
    let mut labels = (0..names.len())
        .take_while(|i| first.and_then(|r| r.get(*i)).is_some_and(|c| !c.num))
        .count()
        .clamp(1, names.len().saturating_sub(1).max(1));
    let label_width = |n: usize| -> usize {
        (0..n)
            .map(|i| {
                cells
                    .iter()
                    .filter_map(|r| r.get(i))
                    .chain(names.get(i))
                    .map(|c| c.chars().count() + 3)
                    .max()
                    .unwrap_or(0)
            })
            .sum()
    };
    // Labels leave at least 30 columns to the figures.
    while labels > 1 && label_width(labels) > MARKDOWN_WIDTH - 30 {
        labels -= 1;
    }
    let label_width = label_width(labels);
    let room = MARKDOWN_WIDTH.saturating_sub(label_width + 4).max(16);
    for r in &mut cells {
        for c in r.iter_mut().skip(labels) {
            *c = clip(c, room);
        }
    }
    let width = |i: usize| {
        cells
            .iter()
            .filter_map(|r| r.get(i))
            .map(|c| c.chars().count())
            .chain(names.get(i).map(|n| md_escape(n).chars().count()))
            .max()
            .unwrap_or(0)
            .max(3)
    };
    // Leading label columns repeat in every part.
    let fixed: usize = (0..labels).map(|i| width(i) + 3).sum::<usize>() + 1;
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut used = fixed;
    for i in labels..names.len() {
        let w = width(i) + 3;
        match parts.last_mut() {
            Some(p) if used + w <= MARKDOWN_WIDTH => p.push(i),
            _ => {
                parts.push(vec![i]);
                used = fixed;
            }
        }
        used += w;
    }
    if parts.is_empty() {
        parts.push(Vec::new());
    }
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let columns: Vec<usize> = (0..labels).chain(part.iter().copied()).collect();
        let line = |texts: Vec<String>| format!("| {} |", texts.join(" | "));
        let _ = writeln!(
            out,
            "{}",
            line(columns.iter().map(|i| md_escape(&names[*i])).collect())
        );
        // Alignment follows the first row: figures right, labels left.
        let _ = writeln!(
            out,
            "{}",
            line(
                columns
                    .iter()
                    .map(|i| match first.and_then(|r| r.get(*i)) {
                        Some(c) if c.num => "---:".to_string(),
                        _ => "---".to_string(),
                    })
                    .collect()
            )
        );
        for r in &cells {
            let _ = writeln!(
                out,
                "{}",
                line(
                    columns
                        .iter()
                        .map(|i| r.get(*i).cloned().unwrap_or_default())
                        .collect()
                )
            );
        }
    }
    out
}

/// `s` cut to `n` characters, with an ellipsis when cut.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
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
    // Titles and prose may carry text of the results file (profile, CPU model, failure
    // messages), so all of it goes through `md_inline`.
    let mut out = format!("# {}\n\n", md_inline(&page.title));
    if !page.subtitle.is_empty() {
        let _ = writeln!(out, "{}\n", md_inline(&page.subtitle));
    }
    for s in page.sections.iter().filter(|s| s.summary || !summary_only) {
        let _ = writeln!(out, "## {}\n", md_inline(&s.title));
        for b in &s.blocks {
            match b {
                Block::Para(p) => {
                    let _ = writeln!(out, "{}\n", md_inline(p));
                }
                Block::Callout(p, _) => {
                    let _ = writeln!(out, "> **{}**\n", md_inline(p));
                }
                Block::Table(t) if !(summary_only && t.collapsed) => {
                    let _ = writeln!(out, "{}", markdown_table(t));
                }
                Block::Table(_) | Block::Charts(_) => {}
                Block::Code(c) => {
                    let f = fence(c);
                    let _ = writeln!(out, "{f}sh\n{c}\n{f}\n");
                }
                Block::Facts(f) => {
                    for (k, v) in f {
                        let _ = writeln!(out, "- **{}**: {}", md_inline(k), md_inline(v));
                    }
                    out.push('\n');
                }
                Block::Links(l) => {
                    for (label, href) in l {
                        match local_href(href) {
                            Some(h) => {
                                let _ = writeln!(out, "- [{}]({h})", md_inline(label));
                            }
                            None => {
                                let _ = writeln!(out, "- {}", md_inline(label));
                            }
                        }
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

    #[test]
    fn markdown_text_is_inert() {
        assert_eq!(
            md_escape("a\\|b<i>`c`\n[d](e) < 6"),
            "a\\\\\\|b\\<i>\\`c\\` [d\\](e) < 6"
        );
        assert_eq!(md_inline("run `a<b>` <i>"), "run `a<b>` \\<i>");
        assert_eq!(md_inline("# no\nheading"), "\\# no heading");
        assert_eq!(md_inline("12. no list"), "\\12. no list");
        assert_eq!(fence("a ``` b"), "````");
        assert_eq!(fence("plain"), "```");
    }

    #[test]
    fn link_targets_are_local_and_encoded() {
        assert_eq!(
            local_href("flame/a b(1).svg").as_deref(),
            Some("flame/a%20b%281%29.svg")
        );
        assert_eq!(
            local_href("/tmp/x\"><script>").as_deref(),
            Some("/tmp/x%22%3E%3Cscript%3E")
        );
        assert_eq!(local_href("a%20b").as_deref(), Some("a%20b"));
        for bad in [
            "javascript:alert(1)",
            "JavaScript:x",
            "data:text/html,x",
            "//evil/x",
            "",
        ] {
            assert_eq!(local_href(bad), None, "{bad}");
        }
    }
}
