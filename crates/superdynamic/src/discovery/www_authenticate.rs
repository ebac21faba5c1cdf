//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9728 §5.1).
//!
//! Servers send several challenges in one header or across several headers, quote values (with `\` escapes)
//! or not, and sometimes send garbage. The parser keeps every well-formed challenge and skips what it cannot
//! read rather than failing the whole header.

/// One authentication challenge: a scheme and its parameters (names lowercased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

/// What an MCP client needs from the Bearer challenge of a 401 or 403.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    pub resource_metadata: Option<String>,
    /// Space-separated scopes the server asks for (RFC 6750 §3).
    pub scope: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl BearerChallenge {
    /// The first Bearer challenge among all header values; `None` when there is none.
    pub fn from_headers<S: AsRef<str>>(values: &[S]) -> Option<Self> {
        let challenge = values.iter().flat_map(|v| parse(v.as_ref())).find(Challenge::is_bearer)?;
        Some(Self {
            resource_metadata: challenge.param("resource_metadata").map(str::to_string),
            scope: challenge.param("scope").map(str::to_string).filter(|s| !s.trim().is_empty()),
            error: challenge.param("error").map(str::to_string),
            error_description: challenge.param("error_description").map(str::to_string),
        })
    }

    pub fn is_insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

/// Parses one header value into its challenges.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut lexer = Lexer { s: header.as_bytes(), pos: 0 };
    let mut challenges: Vec<Challenge> = Vec::new();
    loop {
        lexer.skip_ws_and_commas();
        if lexer.at_end() {
            break;
        }
        let Some(scheme) = lexer.token() else {
            lexer.skip_to_comma();
            continue;
        };
        let mut challenge = Challenge { scheme, params: Vec::new() };
        // Parameters follow until the next token that is not followed by '=' (that is a new scheme).
        loop {
            lexer.skip_ws();
            let save = lexer.pos;
            if lexer.peek() == Some(b',') {
                lexer.pos += 1;
                lexer.skip_ws_and_commas();
            }
            let before_name = lexer.pos;
            let Some(name) = lexer.token() else {
                // token68 (e.g. `Basic abc==`) or junk: skip it.
                if lexer.pos == before_name && !lexer.at_end() && lexer.peek() != Some(b',') {
                    lexer.skip_to_comma();
                    continue;
                }
                break;
            };
            lexer.skip_ws();
            if lexer.peek() != Some(b'=') {
                // A bare token: either token68 right after the scheme or the next challenge's scheme.
                if challenge.params.is_empty() && save == before_name {
                    continue;
                }
                lexer.pos = before_name;
                break;
            }
            lexer.pos += 1;
            // token68 padding like `abc==`: '=' followed by '=' or end.
            if matches!(lexer.peek(), Some(b'=') | None | Some(b',')) && lexer.peek() != Some(b'"') {
                while lexer.peek() == Some(b'=') {
                    lexer.pos += 1;
                }
                continue;
            }
            lexer.skip_ws();
            let value = if lexer.peek() == Some(b'"') { lexer.quoted() } else { lexer.token() };
            match value {
                Some(v) => challenge.params.push((name.to_ascii_lowercase(), v)),
                None => lexer.skip_to_comma(),
            }
        }
        challenges.push(challenge);
    }
    challenges
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n' | b',')) {
            self.pos += 1;
        }
    }

    fn skip_to_comma(&mut self) {
        while let Some(c) = self.peek() {
            if c == b',' {
                break;
            }
            if c == b'"' {
                let _ = self.quoted();
                continue;
            }
            self.pos += 1;
        }
    }

    /// RFC 9110 §5.6.2 token.
    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&c);
            if !tchar {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    /// RFC 9110 §5.6.4 quoted-string, with `\` escapes. An unterminated string runs to the end.
    fn quoted(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.pos += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_style_bearer_challenge() {
        let h = r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read mcp:tools""#;
        let c = BearerChallenge::from_headers(&[h]).unwrap();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c.scope.as_deref(), Some("files:read mcp:tools"));
        assert_eq!(c.error, None);
    }

    #[test]
    fn insufficient_scope_with_escapes_and_unquoted_values() {
        let h = r#"Bearer error=insufficient_scope, scope="files:read", error_description="needs \"files:read\"""#;
        let c = BearerChallenge::from_headers(&[h]).unwrap();
        assert!(c.is_insufficient_scope());
        assert_eq!(c.error_description.as_deref(), Some(r#"needs "files:read""#));
    }

    #[test]
    fn several_challenges_in_one_header() {
        let h = r#"Basic realm="x", Bearer realm="mcp", scope="a b", resource_metadata="https://h/m""#;
        let all = parse(h);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].scheme, "Basic");
        assert_eq!(all[1].param("realm"), Some("mcp"));
        let c = BearerChallenge::from_headers(&[h]).unwrap();
        assert_eq!(c.resource_metadata.as_deref(), Some("https://h/m"));
    }

    #[test]
    fn token68_and_case_insensitive_scheme_and_names() {
        let all = parse("Negotiate abc123==, bearer Scope=\"x\"");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].params, vec![]);
        assert!(all[1].is_bearer());
        assert_eq!(all[1].param("scope"), Some("x"));
    }

    #[test]
    fn challenges_across_several_header_values() {
        let values = ["Basic realm=\"a\"", "Bearer resource_metadata=\"https://h/x\""];
        let c = BearerChallenge::from_headers(&values).unwrap();
        assert_eq!(c.resource_metadata.as_deref(), Some("https://h/x"));
    }

    #[test]
    fn garbage_does_not_panic_or_invent_challenges() {
        for junk in ["", ",,,", "\"unterminated", "=", "Bearer =\"x\"", "Bearer a=\"b", "Bearer ,,, x=", "ü ß"] {
            let _ = parse(junk);
            let _ = BearerChallenge::from_headers(&[junk]);
        }
        assert_eq!(BearerChallenge::from_headers(&["Basic realm=\"x\""]), None);
        let c = BearerChallenge::from_headers(&["Bearer"]).unwrap();
        assert_eq!(c, BearerChallenge::default());
    }

    #[test]
    fn bearer_with_empty_scope_is_no_scope() {
        let c = BearerChallenge::from_headers(&["Bearer scope=\"\""]).unwrap();
        assert_eq!(c.scope, None);
    }
}
