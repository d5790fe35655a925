//! The host platform.
