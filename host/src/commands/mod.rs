//! The CLI's commands beyond `run`.

pub mod inspect;
pub mod similar;
pub mod train;
