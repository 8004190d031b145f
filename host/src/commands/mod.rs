//! The CLI's commands beyond `run`.

pub mod assemble;
pub mod evaluate;
pub mod fluent_bit;
pub mod inspect;
pub mod report;
pub mod similar;
pub mod train;
pub mod validate;

/// Print to stdout; a reader that went away (`| head`) is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// When a model is written, in seconds since the Unix epoch: now, or
/// `$SOURCE_DATE_EPOCH` when it is set (the reproducible-builds convention),
/// so that training the same spec on the same input gives the same bytes,
/// and the same model id.
pub fn creation_time() -> anyhow::Result<i64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .map_err(|_| anyhow::anyhow!("SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds since 1970-01-01")),
        Err(_) => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)),
    }
}
