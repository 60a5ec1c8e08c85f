//! Renders a [`Page`] as one self-contained HTML file: inline CSS and SVG, no script, nothing
//! fetched from the network, so it opens the same from a CI artifact or an email.

use askama::Template;

use crate::ReportError;
// `Block` is named by the template's match arms.
use crate::doc::{Block, Page};

#[derive(Template)]
#[template(path = "page.html")]
struct PageHtml<'a> {
    page: &'a Page,
    footer: &'a str,
}

impl PageHtml<'_> {
    /// Escapes a paragraph and turns `backquoted` spans into code.
    fn inline(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 16);
        for (i, part) in text.split('`').enumerate() {
            let escaped = escape(part);
            if i % 2 == 1 {
                out.push_str("<code>");
                out.push_str(&escaped);
                out.push_str("</code>");
            } else {
                out.push_str(&escaped);
            }
        }
        out
    }
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page as HTML, with `footer` (where it came from) at the bottom.
pub fn render(page: &Page, footer: &str) -> Result<String, ReportError> {
    PageHtml { page, footer }
        .render()
        .map_err(|e| ReportError::Template(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_escapes_code_spans_and_prose() {
        let page = Page::default();
        let html = PageHtml {
            page: &page,
            footer: "",
        };
        assert_eq!(
            html.inline("a <b> `<script>` & \"q\" `x"),
            "a &lt;b&gt; <code>&lt;script&gt;</code> &amp; &quot;q&quot; <code>x</code>"
        );
    }
}
