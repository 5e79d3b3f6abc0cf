//! Rendering findings and errors; reports never decide anything.

pub mod check_report;
pub mod ci_formats;
pub mod diagnostic;
pub mod json;
pub mod review;
pub mod markdown;
pub mod concise;
