//! Fuzz target bodies for codex-sandbox; see `targets`.
pub mod targets;
