//! The CLI's commands beyond `run`.

pub mod assemble;
pub mod inspect;
pub mod report;
pub mod similar;
pub mod train;

/// Print to stdout; a reader that went away (`| head`) is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
