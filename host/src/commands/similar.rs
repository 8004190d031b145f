//! `logsieve similar`: the tokens nearest a token in a flow2vec model
//! (gensim's `most_similar`: cosine similarity of the vectors).

use std::path::Path;

use anyhow::{Result, bail};
use logsieve_artifact::decode;

/// Print the `top` tokens most similar to `token`.
pub fn similar(model: &Path, token: &str, top: usize, json: bool) -> Result<()> {
    let bytes = crate::model_file::read_model(model)?;
    let d = decode(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let Some(emb) = logsieve_train::flow2vec::embeddings_of(&d.model) else {
        bail!("{} is a {} model; `similar` needs a flow2vec model", model.display(), d.model.spec.model.kind.as_str());
    };
    if emb.vocab.index(token).is_none() {
        let examples: Vec<&str> = emb.vocab.words().iter().take(3).map(String::as_str).collect();
        bail!(
            "the token {token:?} is not in the model's vocabulary ({} tokens, e.g. {}); a token is the features joined with '|'",
            emb.len(),
            examples.join(", ")
        );
    }
    let near = emb.most_similar(token, top);
    let text = if json {
        let rows: Vec<serde_json::Value> =
            near.iter().map(|(t, s)| serde_json::json!({"token": t, "similarity": s})).collect();
        serde_json::to_string_pretty(&rows)? + "\n"
    } else {
        near.iter().map(|(t, s)| format!("{s:8.4}  {t}\n")).collect()
    };
    crate::commands::print_stdout(&text)
}
