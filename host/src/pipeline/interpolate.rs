//! Environment variables in pipeline files, as Vector interpolates them:
//! the file's text is rewritten before it is parsed.
//!
//! | written | becomes |
//! |---|---|
//! | `${NAME}` or `$NAME` | the variable's value; an error if it is not set |
//! | `${NAME:-default}` | the value, or `default` when it is unset or empty |
//! | `${NAME-default}` | the value, or `default` when it is unset |
//! | `${NAME:?message}` | the value; an error with `message` when it is unset or empty |
//! | `${NAME?message}` | the value; an error with `message` when it is unset |
//! | `$$` | a literal `$` |
//!
//! A name is `[A-Za-z_][A-Za-z0-9_]*`; a `$` followed by anything else is
//! kept as it is. Lines that are comments (their first non-blank character
//! is `#`) are left alone, so a commented-out key does not need its
//! variable. Values are inserted as they are (a value holding a `"` breaks
//! the TOML string it is in, which the parser then reports). Every missing
//! variable is reported at once, with its line.

/// The text with its variables replaced, and every problem found (each
/// naming its line; a variable that could not be replaced is left as it
/// was written, so the rest of the file can still be checked).
pub fn interpolate(text: &str, var: impl Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut errs = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let at = n + 1;
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(inner) = after.strip_prefix('{') {
                let Some(end) = inner.find('}') else {
                    errs.push(format!("line {at}: `${{` without its closing `}}`"));
                    out.push_str(&rest[i..]);
                    rest = "";
                    break;
                };
                match expand(&inner[..end], &var) {
                    Ok(v) => out.push_str(&v),
                    Err(e) => {
                        errs.push(format!("line {at}: {e}"));
                        out.push_str(&rest[i..i + 2 + end + 1]);
                    }
                }
                rest = &inner[end + 1..];
            } else {
                let len = name_len(after);
                if len == 0 {
                    out.push('$');
                } else {
                    let name = &after[..len];
                    match var(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            errs.push(format!("line {at}: environment variable `{name}` is not set"));
                            out.push('$');
                            out.push_str(name);
                        }
                    }
                }
                rest = &after[len..];
            }
        }
        out.push_str(rest);
    }
    (out, errs)
}

/// The length of the variable name at the start of `s` (0: none).
fn name_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.first().is_none_or(|c| !(c.is_ascii_alphabetic() || *c == b'_')) {
        return 0;
    }
    b.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count()
}

/// What `${inner}` stands for.
fn expand(inner: &str, var: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let len = name_len(inner);
    if len == 0 {
        return Err(format!("`${{{inner}}}` does not start with a variable name ([A-Za-z_][A-Za-z0-9_]*)"));
    }
    let (name, op) = inner.split_at(len);
    let value = var(name);
    let empty = value.as_deref().is_none_or(str::is_empty);
    let missing = || format!("environment variable `{name}` is not set");
    match op {
        "" => value.ok_or_else(missing),
        _ if op.starts_with(":-") => Ok(if empty { op[2..].to_string() } else { value.unwrap_or_default() }),
        _ if op.starts_with('-') => Ok(value.unwrap_or_else(|| op[1..].to_string())),
        _ if op.starts_with(":?") => {
            if empty {
                Err(format!("environment variable `{name}` is not set or empty: {}", &op[2..]))
            } else {
                Ok(value.unwrap_or_default())
            }
        }
        _ if op.starts_with('?') => {
            value.ok_or_else(|| format!("environment variable `{name}` is not set: {}", &op[1..]))
        }
        _ => {
            Err(format!("`${{{inner}}}`: unknown form (use ${{{name}}}, ${{{name}:-default}} or ${{{name}:?message}})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DIR" => Some("/var/log/zeek".into()),
            "EMPTY" => Some(String::new()),
            "N" => Some("4".into()),
            _ => None,
        }
    }

    #[test]
    fn every_form() {
        let text = "path = \"${DIR}/conn.log\"\nthreads = $N\nbatch = ${MISSING:-1000}\nx = \"${EMPTY:-d}|${EMPTY-d}|${MISSING-e}\"\nprice = \"$$5 $ 5 $1\"\n";
        let (got, errs) = interpolate(text, env);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            got,
            "path = \"/var/log/zeek/conn.log\"\nthreads = 4\nbatch = 1000\nx = \"d||e\"\nprice = \"$5 $ 5 $1\"\n"
        );
    }

    #[test]
    fn every_missing_variable_is_reported_with_its_line() {
        let text = "a = \"${A}\"\n# b = \"${B}\" (a comment)\nc = \"$C ${D:?the model folder}\"\ne = \"${E\"\n";
        let (kept, errs) = interpolate(text, env);
        assert_eq!(kept, text, "what could not be replaced is kept as written");
        assert_eq!(
            errs,
            [
                "line 1: environment variable `A` is not set",
                "line 3: environment variable `C` is not set",
                "line 3: environment variable `D` is not set or empty: the model folder",
                "line 4: `${` without its closing `}`",
            ]
        );
        let (_, errs) = interpolate("x = \"${1A} ${A:+b}\"", env);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("does not start with a variable name"), "{errs:?}");
        assert!(errs[1].contains("unknown form"), "{errs:?}");
    }

    #[test]
    fn text_without_variables_is_unchanged() {
        let text = "[sources.a]\ntype = \"file\"\npath = \"a b/ü.log\"\n";
        assert_eq!(interpolate(text, env), (text.to_string(), vec![]));
    }
}
