//! A reader for JSON with comments and trailing commas (JSONC, as Zed's and VS Code's settings files allow) that
//! keeps every value's byte span. Edits then change one entry's bytes and leave the rest of the file (comments,
//! key order, spacing) exactly as it was, which a parse-and-reserialize round trip could not.

/// A value and the bytes `start..end` it occupies in the text.
#[derive(Debug)]
pub struct Node {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

#[derive(Debug)]
pub enum Kind {
    /// `{` is at `start`, `}` at `end - 1`.
    Object(Vec<Member>),
    Array(Vec<Node>),
    String(String),
    /// A number, `true`, `false` or `null`.
    Scalar,
}

#[derive(Debug)]
pub struct Member {
    pub key: String,
    pub key_start: usize,
    pub value: Node,
    /// A comma follows the value (always, except possibly after the last member).
    pub comma_after: bool,
}

impl Node {
    pub fn members(&self) -> Option<&[Member]> {
        match &self.kind {
            Kind::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The member named `key`; the last one when a key repeats, as JSON readers usually take the last.
    pub fn get(&self, key: &str) -> Option<&Member> {
        self.members()?.iter().rev().find(|m| m.key == key)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a list of strings, when it is an array of strings only.
    pub fn as_strings(&self) -> Option<Vec<String>> {
        match &self.kind {
            Kind::Array(items) => items.iter().map(|i| i.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    }
}

/// Where and why the text is not JSON. It never quotes the file (which may hold secrets in `env`).
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

/// Nesting deeper than this is refused rather than risking the stack on a hostile file.
const MAX_DEPTH: usize = 128;

pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut parser = Parser { text, bytes: text.as_bytes(), pos: 0 };
    if text.starts_with('\u{feff}') {
        parser.pos = 3; // a byte order mark, which some Windows editors write
    }
    parser.skip_trivia()?;
    let root = parser.value(0)?;
    parser.skip_trivia()?;
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("unexpected text after the end of the top-level value"));
    }
    Ok(root)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> SyntaxError {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SyntaxError { line, column, message: message.to_string() }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips whitespace, `// line` and `/* block */` comments.
    fn skip_trivia(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'*') => {
                    let open = self.pos;
                    match self.text[open + 2..].find("*/") {
                        Some(i) => self.pos = open + 2 + i + 2,
                        None => return Err(self.error("a /* comment is never closed")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(b't' | b'f' | b'n') => self.literal()?,
            Some(_) => {
                return Err(self.error("expected a value (an object, array, string, number, true, false or null)"));
            }
            None => return Err(self.error("the text ends where a value was expected")),
        };
        Ok(Node { start, end: self.pos, kind })
    }

    fn object(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        self.pos += 1; // {
        let mut members: Vec<Member> = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Kind::Object(members));
                }
                Some(b'"') => {}
                None => return Err(self.error("the text ends inside an object (a '}' is missing)")),
                Some(_) => return Err(self.error("expected a \"key\" or '}' in an object")),
            }
            if members.last().is_some_and(|m| !m.comma_after) {
                return Err(self.error("expected ',' between object members"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            self.skip_trivia()?;
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':' after an object key"));
            }
            self.pos += 1;
            self.skip_trivia()?;
            let value = self.value(depth + 1)?;
            self.skip_trivia()?;
            let comma_after = match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    true
                }
                Some(b'}') => false,
                None => return Err(self.error("the text ends inside an object (a '}' is missing)")),
                Some(_) => return Err(self.error("expected ',' or '}' after an object member")),
            };
            members.push(Member { key, key_start, value, comma_after });
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        self.pos += 1; // [
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Kind::Array(items));
                }
                None => return Err(self.error("the text ends inside an array (a ']' is missing)")),
                Some(_) => {}
            }
            items.push(self.value(depth + 1)?);
            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                None => return Err(self.error("the text ends inside an array (a ']' is missing)")),
                Some(_) => return Err(self.error("expected ',' or ']' after an array item")),
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1; // "
        let mut out = String::new();
        loop {
            let run = self.pos;
            while !matches!(self.peek(), None | Some(b'"' | b'\\' | 0..=0x1f)) {
                self.pos += 1;
            }
            // Only ASCII bytes stop the run, so it ends on a character boundary.
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.error("a control character (such as a line break) inside a string")),
                None => return Err(self.error("a string is never closed")),
            }
        }
    }

    fn escape(&mut self) -> Result<char, SyntaxError> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let high = self.hex4()?;
                if !(0xd800..0xdc00).contains(&high) {
                    return char::from_u32(high).ok_or_else(|| self.error("a \\u escape names no character"));
                }
                // A surrogate pair: \uD83D\uDE00.
                if self.bytes.get(self.pos) != Some(&b'\\') || self.bytes.get(self.pos + 1) != Some(&b'u') {
                    return Err(self.error("a \\u escape names half a character (a surrogate) without its pair"));
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xdc00..0xe000).contains(&low) {
                    return Err(self.error("a \\u escape names half a character (a surrogate) without its pair"));
                }
                let code = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                return char::from_u32(code).ok_or_else(|| self.error("a \\u escape names no character"));
            }
            _ => return Err(self.error("an unknown escape after '\\' in a string")),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let digits = self.text.get(self.pos..self.pos + 4).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let value = digits
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
        self.pos += 4;
        Ok(value)
    }

    fn number(&mut self) -> Result<Kind, SyntaxError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
            self.pos += 1;
        }
        let text = &self.text[start..self.pos];
        let digits = text.strip_prefix('-').unwrap_or(text);
        let leading_zero = digits.len() > 1 && digits.starts_with('0') && digits.as_bytes()[1].is_ascii_digit();
        if text.parse::<f64>().is_err() || !digits.starts_with(|c: char| c.is_ascii_digit()) || leading_zero {
            self.pos = start;
            return Err(self.error("not a valid number"));
        }
        Ok(Kind::Scalar)
    }

    fn literal(&mut self) -> Result<Kind, SyntaxError> {
        for word in ["true", "false", "null"] {
            if self.text[self.pos..].starts_with(word) {
                self.pos += word.len();
                return Ok(Kind::Scalar);
            }
        }
        Err(self.error("expected a value (an object, array, string, number, true, false or null)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_spans_of_members_and_reads_strings() {
        let text = r#"{ "a": "x\n\u00e9\ud83d\ude00", "b": [1, "two", true] }"#;
        let root = parse(text).unwrap();
        let a = root.get("a").unwrap();
        assert_eq!(a.value.as_str(), Some("x\né😀"));
        assert_eq!(&text[a.key_start..a.key_start + 3], "\"a\"");
        let b = &root.get("b").unwrap().value;
        assert_eq!(&text[b.start..b.end], r#"[1, "two", true]"#);
        assert_eq!(b.as_strings(), None, "not all strings");
        assert!(!root.get("b").unwrap().comma_after);
    }

    #[test]
    fn accepts_comments_and_trailing_commas() {
        let text = "// Zed settings\n{\n  /* block */ \"a\": [\"x\",], // line\n  \"b\": {},\n}\n";
        let root = parse(text).unwrap();
        assert_eq!(root.get("a").unwrap().value.as_strings(), Some(vec!["x".to_string()]));
        assert!(root.get("b").unwrap().comma_after);
    }

    #[test]
    fn repeated_keys_resolve_to_the_last() {
        let root = parse(r#"{"a": "first", "a": "second"}"#).unwrap();
        assert_eq!(root.get("a").unwrap().value.as_str(), Some("second"));
    }

    #[test]
    fn errors_name_line_and_column_without_quoting_the_file() {
        let error = parse("{\n  \"a\": \"secret\"\n  \"b\": 1\n}").unwrap_err();
        assert_eq!(
            error,
            SyntaxError { line: 3, column: 3, message: "expected ',' or '}' after an object member".into() }
        );
        assert!(!error.to_string().contains("secret"));
        assert_eq!(parse("{\"a\": 1").unwrap_err().message, "the text ends inside an object (a '}' is missing)");
        assert_eq!(parse("{} x").unwrap_err().message, "unexpected text after the end of the top-level value");
        assert!(parse("{\"a\": 01}").is_err());
        assert!(parse("{\"a\": \"\\ud800\"}").is_err());
        assert!(parse("/* open").is_err());
        assert!(parse(&"[".repeat(200)).unwrap_err().message.contains("nested too deeply"));
    }
}
