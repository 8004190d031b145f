//! Reading a model file: only a regular file (a symlink to one is
//! followed), at most [`MAX_MODEL_BYTES`], read with that bound. A FIFO, a
//! device (`/dev/zero`), a directory or a larger file is refused with a
//! message before anything is read from it, so a model path can neither
//! hang a command nor fill its memory. Every command that reads a model
//! (`run` and its hot reload, `inspect`, `evaluate --model`, `report`,
//! `similar`) reads it here.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The largest model file read: 256 MiB (the largest model the examples
/// train is well under 1 MiB; a flow2vec model of a million tokens with 100
/// dimensions is ~400 MB in memory and far above what a component holds).
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// What a file is, for a message, when it is not a regular file.
fn kind_of(m: &std::fs::Metadata) -> &'static str {
    let t = m.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a directory" } else { "not a regular file" }
}

/// Whether `m` is a file that may be read as a model, and why not.
fn check(m: &std::fs::Metadata) -> Result<(), String> {
    if !m.is_file() {
        return Err(format!("is {}, not a regular file; a model must be a regular file", kind_of(m)));
    }
    if m.len() > MAX_MODEL_BYTES {
        return Err(format!("is {} bytes, more than the {} MiB a model file may have", m.len(), MAX_MODEL_BYTES >> 20));
    }
    Ok(())
}

/// Opens a file without waiting for a writer if it turned into a FIFO
/// after it was checked.
fn open(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(0o4000); // O_NONBLOCK: opening a FIFO does not wait
    }
    o.open(path)
}

/// The bytes of the model file `path`, or why it cannot be one (the
/// message does not name the path: callers do).
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    let m = std::fs::metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
    check(&m)?;
    let f = open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    // The file opened is checked again: it may have been replaced since.
    check(&f.metadata().map_err(|e| format!("cannot be read: {e}"))?)?;
    let mut bytes = Vec::with_capacity(m.len() as usize);
    f.take(MAX_MODEL_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("could not be read to the end: {e}"))?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(format!("grew past the {} MiB a model file may have while being read", MAX_MODEL_BYTES >> 20));
    }
    Ok(bytes)
}

/// [`read`] for a command: the error names the file.
pub fn read_model(path: &Path) -> anyhow::Result<Vec<u8>> {
    read(path).map_err(|e| anyhow::anyhow!("reading the model: the file {} {e}", path.display()))
}
