//! pkm
