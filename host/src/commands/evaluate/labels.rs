//! Labels for `logsieve evaluate`: where an event's label is read (one of
//! its fields, or a labels file by a key field), and which class the label
//! puts it in (`--positive` / `--negative` patterns).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, bail};
use logsieve_readers::{Format, Reader};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// What an event's label makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Its label matches a `--positive` pattern: an attack.
    Positive,
    /// Its label matches a `--negative` pattern, or (without `--negative`)
    /// it has a label that is not positive.
    Negative,
    /// It has a label that matches neither (only with `--negative`).
    Unlabelled,
    /// It has no label: the field is absent, null or empty, or (with a
    /// labels file) its key field is absent or not in the file.
    Missing,
}

impl Class {
    /// Every class, in the order reports list them.
    pub const ALL: [Class; 4] = [Class::Positive, Class::Negative, Class::Unlabelled, Class::Missing];

    /// Its name in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Class::Positive => "positive",
            Class::Negative => "negative",
            Class::Unlabelled => "unlabelled",
            Class::Missing => "missing",
        }
    }

    /// Positive or negative: counted in the metrics.
    pub fn labelled(self) -> bool {
        matches!(self, Class::Positive | Class::Negative)
    }
}

/// `pattern` matches `text`: `*` stands for any run of characters (also
/// none), every other character for itself, letters compared without case.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and where in the text its run ends so far.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let the star take one more character.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The value of the top-level key `field` of a JSON object text, without
/// building the rest of the object; `None` when the key is absent or the
/// text is not a JSON object.
pub fn field_of(text: &str, field: &str) -> Option<Value> {
    struct Pick<'f>(&'f str);
    impl<'de> Visitor<'de> for Pick<'_> {
        type Value = Option<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
            let mut found = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == self.0 {
                    found = Some(map.next_value::<Value>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserializer::deserialize_map(&mut de, Pick(field)).ok().flatten()
}

/// A label or key value as text: a string trimmed, a number or boolean as
/// its JSON text; `None` for null, an empty string, an array or an object.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Where labels come from.
pub enum Source {
    /// The events' field of this name.
    Field(String),
    /// A labels file: per value of the key field, a label.
    File {
        /// The events' field whose value is looked up.
        key_field: String,
        /// Key value → label.
        labels: HashMap<String, String>,
    },
}

/// Reads events' labels and classifies them.
pub struct Labeler {
    /// Where the labels come from.
    pub source: Source,
    /// `--label-field`: the events' field, or the labels file's column.
    pub label_field: String,
    /// `--positive` patterns.
    pub positive: Vec<String>,
    /// `--negative` patterns (empty: every label that is not positive).
    pub negative: Vec<String>,
}

impl Labeler {
    /// The label of a JSON event text, if it has one.
    pub fn label(&self, text: &str) -> Option<String> {
        match &self.source {
            Source::Field(f) => field_of(text, f).as_ref().and_then(value_text),
            Source::File { key_field, labels } => {
                let key = field_of(text, key_field).as_ref().and_then(value_text)?;
                labels.get(&key).cloned()
            }
        }
    }

    /// Whether a JSON event text has the field the labels are read from
    /// (the label field, or the key field), whatever its value.
    pub fn has_field(&self, text: &str) -> bool {
        let f = match &self.source {
            Source::Field(f) => f,
            Source::File { key_field, .. } => key_field,
        };
        field_of(text, f).is_some()
    }

    /// The field events are looked up by: the label field, or the key field.
    pub fn event_field(&self) -> &str {
        match &self.source {
            Source::Field(f) => f,
            Source::File { key_field, .. } => key_field,
        }
    }

    /// The class of a label (`None`: no label); an error when the label
    /// matches both a positive and a negative pattern.
    pub fn classify(&self, label: Option<&str>) -> Result<Class> {
        let Some(label) = label else { return Ok(Class::Missing) };
        let pos = self.positive.iter().find(|p| glob_match(p, label));
        let neg = self.negative.iter().find(|p| glob_match(p, label));
        match (pos, neg) {
            (Some(p), Some(n)) => {
                bail!("the label {label:?} matches both --positive {p:?} and --negative {n:?}; make them exclusive")
            }
            (Some(_), None) => Ok(Class::Positive),
            (None, Some(_)) => Ok(Class::Negative),
            (None, None) if self.negative.is_empty() => Ok(Class::Negative),
            (None, None) => Ok(Class::Unlabelled),
        }
    }
}

/// Read a labels file (CSV with a header, or NDJSON): per row, the value
/// of `key_field` and of `label_field`. Rows without either are skipped;
/// a key given two different labels is an error.
pub fn read_labels_file(path: &Path, key_field: &str, label_field: &str) -> Result<HashMap<String, String>> {
    let mut labels: HashMap<String, (String, u64)> = HashMap::new();
    let (mut rows, mut without_key, mut without_label) = (0u64, 0u64, 0u64);
    let mut fields_seen: Option<Vec<String>> = None;
    for item in Reader::open(vec![path.to_path_buf()], Format::Auto) {
        let text = match item.result {
            Ok(t) => t,
            Err(e) if logsieve_readers::reason::IO.contains(&e.reason) => {
                bail!("reading the labels file {}: {e}", path.display())
            }
            Err(e) => bail!("the labels file {}, line {}: {e}", path.display(), item.origin.line),
        };
        rows += 1;
        let obj: serde_json::Map<String, Value> = match serde_json::from_str(&text) {
            Ok(Value::Object(o)) => o,
            _ => bail!("the labels file {}, line {}: not a JSON object", path.display(), item.origin.line),
        };
        if fields_seen.is_none() {
            fields_seen = Some(obj.keys().cloned().collect());
        }
        let Some(key) = obj.get(key_field).and_then(value_text) else {
            without_key += 1;
            continue;
        };
        let Some(label) = obj.get(label_field).and_then(value_text) else {
            without_label += 1;
            continue;
        };
        match labels.get(&key) {
            Some((l, line)) if *l != label => bail!(
                "the labels file {} gives the key {key:?} two labels: {l:?} (line {line}) and {label:?} (line {})",
                path.display(),
                item.origin.line
            ),
            Some(_) => {}
            None => {
                labels.insert(key, (label, item.origin.line));
            }
        }
    }
    if labels.is_empty() {
        let fields = fields_seen.map(|f| f.join(", ")).unwrap_or_default();
        bail!(
            "the labels file {} has no row with both a --key-field {key_field:?} and a --label-field {label_field:?} \
             ({rows} row(s): {without_key} without the key, {without_label} without the label; columns: {fields})",
            path.display()
        );
    }
    Ok(labels.into_iter().map(|(k, (l, _))| (k, l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("Malicious*", "Malicious   C&C"));
        assert!(glob_match("malicious*", "MALICIOUS"));
        assert!(glob_match("*C&C", "Malicious   C&C"));
        assert!(glob_match("*port*scan*", "Malicious   PartOfAHorizontalPortScan"));
        assert!(glob_match("Benign", "benign"));
        assert!(!glob_match("Benign", "Benign flow"));
        assert!(!glob_match("Malicious*", "Benign"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYbc"));
        assert!(!glob_match("a*b*c", "aXXbYbd"));
        assert!(glob_match("**", "x"));
        assert!(!glob_match("", "x"));
    }

    #[test]
    fn one_field_is_read() {
        let t = r#"{"a":{"b":[1,2]},"label":"  Malicious   C&C ","id.orig_h":"10.0.0.1","n":80}"#;
        assert_eq!(field_of(t, "label").as_ref().and_then(value_text).as_deref(), Some("Malicious   C&C"));
        assert_eq!(field_of(t, "id.orig_h"), Some(Value::from("10.0.0.1")));
        assert_eq!(field_of(t, "n").as_ref().and_then(value_text).as_deref(), Some("80"));
        assert_eq!(field_of(t, "x"), None);
        assert_eq!(field_of("[1]", "x"), None);
        assert_eq!(field_of(r#"{"label":"a\"b"}"#, "label"), Some(Value::from("a\"b")));
        assert_eq!(value_text(&Value::from("  ")), None);
        assert_eq!(value_text(&Value::Null), None);
    }

    #[test]
    fn classes() {
        let l = |neg: &[&str]| Labeler {
            source: Source::Field("label".into()),
            label_field: "label".into(),
            positive: vec!["Malicious*".into()],
            negative: neg.iter().map(|s| s.to_string()).collect(),
        };
        let all = l(&[]);
        assert_eq!(all.classify(Some("Malicious")).unwrap(), Class::Positive);
        assert_eq!(all.classify(Some("Background")).unwrap(), Class::Negative);
        assert_eq!(all.classify(None).unwrap(), Class::Missing);
        let some = l(&["Benign"]);
        assert_eq!(some.classify(Some("benign")).unwrap(), Class::Negative);
        assert_eq!(some.classify(Some("Background")).unwrap(), Class::Unlabelled);
        let both = l(&["Mal*"]);
        assert!(both.classify(Some("Malicious")).unwrap_err().to_string().contains("both"));
    }
}
