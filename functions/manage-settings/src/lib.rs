//! manage-settings
